"""`/api/maps/<dataset>/<metric>`: map description, contour tiles and the points in a viewport."""

from __future__ import annotations

import json
import logging

import numpy as np
from flask import Blueprint, Response, jsonify, request

from dkmap.maps.built import SAMPLINGS, BuiltMap
from dkmap.server import arrow, encode, filters
from dkmap.server.colouring import ColourColumn, colour_column
from dkmap.server.registry import registry
from dkmap.server.validation import bad_request, json_body, parse_bbox, parse_choice, parse_int, parse_row_list

log = logging.getLogger(__name__)

bp = Blueprint("maps", __name__, url_prefix="/api/maps/<dataset>/<metric>")

DEFAULT_LIMIT = 50_000
MAX_LIMIT = 200_000
# sampling=all as an Arrow stream: the scatter view fetches every point of a tile in one answer
# (28 bytes a point). JSON answers keep MAX_LIMIT: 5M points of JSON would be ~270 MB built in memory.
MAX_ALL_LIMIT = 5_000_000
MAX_POINT_Z = 30


def json_response(text: str | bytes) -> Response:
    """Pre-encoded JSON as a response."""
    return Response(text, mimetype="application/json")


def point_batch(reg, dataset: str, built: BuiltMap, rows: np.ndarray, colour: ColourColumn | None = None,
                passes: np.ndarray | None = None):
    """The Arrow record batch of `rows` (the columns `points_of` writes as JSON)."""
    ids = reg.once(("arrow-ids", dataset), lambda: arrow.id_array(reg.ids(dataset)))
    value = reg.once(("arrow-values", dataset, built.metric, built.stamp), lambda: arrow.printed_values(built.values))
    return arrow.point_batch(ids, rows, built.positions[rows], value[rows],
                             None if colour is None else colour.values_at(rows), passes)


def filters_arg(reg, dataset: str) -> filters.Filters:
    """The `filters` parameter (URL-encoded JSON, dkmap.server.filters; none when absent)."""
    return filters.parse_filter_arg(filters.source_of(reg, dataset), request.args.get("filters"))


def colour_arg(reg, dataset: str) -> ColourColumn | None:
    """The column named by the `colour` parameter (None when absent; 400 for an unknown or text column)."""
    name = request.args.get("colour")
    return colour_column(reg, dataset, name) if name else None


# What the fit chose, of the manifest's `training` (docs/defaults.md): shown in the settings panel.
TRAINING_FACTS = ("steps", "best_step", "lam", "lams_tried", "n_fit", "n_select")


@bp.get("")
def info(dataset: str, metric: str):
    """Bounds, colour domain, kernel (α, β, s, μ), levels with α_k and validation MSE, settings,
    timings, and what the fit chose (steps, checkpoint, λ)."""
    reg = registry()
    built = reg.map(dataset, metric)
    meta = reg.dataset(dataset).metrics[metric]
    man = built.manifest.data
    return jsonify({
        "dataset": dataset, "metric": metric, "n_items": built.n_items,
        "kind": meta.get("kind", "score"), "description": meta.get("description", ""),
        "unit": meta.get("unit", ""), "bounds": [0, 0, 1, 1],
        "tile_size": built.tile_size, "max_level": built.max_level,
        "precomputed_levels": built.n_stored_levels,
        "colour_domain": man["colour_domain"], "value_range": man["value_range"],
        "diverging": meta.get("kind") == "difference",
        "kernel": built.kernel.to_dict(),
        "levels": man["levels"], "mask": man["mask"],
        "sampling": {"max_level": built.sampling_max_level()},
        "settings": man["settings"], "timings": man.get("timings", {}),
        "training": {k: v for k, v in man.get("training", {}).items() if k in TRAINING_FACTS},
    })


@bp.get("/contour/<z>/<x>/<y>")
def contour_tile(dataset: str, metric: str, z: str, x: str, y: str):
    """One T×T tile of predicted metric values; rows are y, masked cells are null."""
    reg = registry()
    built = reg.map(dataset, metric)
    zi = parse_int("z", z, 0, built.max_level)
    xi = parse_int("x", x, 0, 2**zi - 1)
    yi = parse_int("y", y, 0, 2**zi - 1)

    def encode_tile() -> bytes:
        values = built.tile(zi, xi, yi)
        text = encode.obj({"z": zi, "x": xi, "y": yi, "size": int(values.shape[0])},
                          {"values": encode.float_grid(values)})
        return text.encode()

    key = (dataset, reg.snapshot(dataset).version, metric, built.stamp, zi, xi, yi)
    return json_response(reg.tiles.get_or_compute(key, encode_tile))


@bp.get("/points")
def points(dataset: str, metric: str):
    """Items in the bbox at zoom z: sampled (level <= z) or all, capped at `limit` (up to 200 000; all
    as an Arrow stream up to 5 000 000); an Arrow stream of the point columns when the request accepts it first
    (dkmap.server.arrow)."""
    reg = registry()
    built = reg.map(dataset, metric)
    args = request.args
    z = parse_int("z", args.get("z"), 0, MAX_POINT_Z, default=0)
    bbox = parse_bbox(args.get("bbox"))
    sampling = parse_choice("sampling", args.get("sampling"), SAMPLINGS, default="bluenoise")
    limit = parse_int("limit", args.get("limit"), 1, MAX_ALL_LIMIT if sampling == "all" else MAX_LIMIT, default=DEFAULT_LIMIT)
    if limit > MAX_LIMIT and not arrow.wants_arrow():
        bad_request(f"parameter 'limit' must be in 1..{MAX_LIMIT} for a JSON answer, got {limit} "
                    f"(up to {MAX_ALL_LIMIT} with sampling=all as {arrow.ARROW_STREAM})")
    colour = colour_arg(reg, dataset)
    chosen = filters_arg(reg, dataset)

    if sampling == "all":
        rows = built.index().in_bbox(bbox)
    else:
        rows = built.levelled(sampling).in_bbox(bbox, z)
    total = int(len(rows))
    capped = total > limit
    if capped:
        if sampling == "all":
            # Rows come cell by cell: an even stride keeps the cap spread over the view.
            rows = rows[np.linspace(0, total - 1, limit).astype(np.int64)]
        else:
            rows = rows[:limit]  # coarser levels come first, so the cap keeps the nesting
    fields = {"z": z, "sampling": sampling, "total_in_view": total, "returned": int(len(rows)), "capped": capped}
    return _points_answer(reg, dataset, built, rows, fields, colour, chosen)


@bp.post("/points/rows")
def points_of_rows(dataset: str, metric: str):
    """The listed items (body `{"rows": [...]}`, 1 to 100 000 rows) with their positions on this map."""
    reg = registry()
    built = reg.map(dataset, metric)
    body = json_body()
    rows = parse_row_list(body.get("rows"), built.n_items)
    colour = colour_arg(reg, dataset)
    chosen = filters.parse_filters(filters.source_of(reg, dataset), body.get("filters"))
    return _points_answer(reg, dataset, built, rows, {"returned": int(len(rows))}, colour, chosen)


def _points_answer(reg, dataset: str, built: BuiltMap, rows: np.ndarray, fields: dict,
                   colour: ColourColumn | None, chosen: filters.Filters) -> Response:
    """The points of `rows` as JSON or Arrow, with the colour column and, when filters are given,
    whether each passes them (`passes`; points failing them are sent too, for the view to grey out)
    and how many do (`passing`)."""
    passes = None
    if colour is not None:
        fields["colour"] = colour.info
    if chosen:
        passes = filters.evaluate(filters.source_of(reg, dataset), chosen, rows)
        fields["passing"] = int(passes.sum())
    if arrow.wants_arrow():
        return arrow.stream_response(point_batch(reg, dataset, built, rows, colour, passes), fields)
    return json_response(encode.obj(fields, {"points": points_of(reg, dataset, built, rows, colour=colour,
                                                                passes=passes)}))


def points_of(reg, dataset: str, built: BuiltMap, rows: np.ndarray, fields: dict | None = None,
              colour: ColourColumn | None = None, passes: np.ndarray | None = None) -> str:
    """Columnar JSON of `rows`: row, id, x, y and metric value (the map's own), after any plain
    `fields`; the `colour` column's values and the `passes` flags when given."""
    xy = built.positions[rows]
    values = built.values[rows]
    raw = {"row": encode.int_list(rows), "x": encode.float_list(xy[:, 0]),
           "y": encode.float_list(xy[:, 1]), "value": encode.float_list(values, encode.FLOAT64_FMT)}
    if colour is not None:
        raw["colour"] = encode.float_list(colour.values_at(rows), encode.FLOAT64_FMT)
    if passes is not None:
        raw["passes"] = json.dumps(np.asarray(passes, dtype=bool).tolist())
    return encode.obj({**(fields or {}), "id": reg.ids(dataset)[rows].tolist()}, raw)
