"""`POST /api/maps/<dataset>/<metric>/selection[/ids]`: the items inside a lasso (or listed by id, or
the whole dataset) that pass the body's `filters` (dkmap.server.filters).

A selection's count and metric statistics are exact. Everything sized by the items themselves
(positions, ids, keyword similarities and bar membership) is sent for a bounded sample, so a lasso
over a million items costs what one over SELECTION_SAMPLE does; the full list of ids is paged.
"""

from __future__ import annotations

import json
import logging

import numpy as np
from flask import Blueprint

from dkmap.keywords import RANKS
from dkmap.server import arrow, encode, filters
from dkmap.server.maps import json_response, point_batch, points_of
from dkmap.server.ops.keywords import keyword_view
from dkmap.server.registry import registry
from dkmap.server.validation import MAX_SELECTION_IDS, bad_request, body_int, json_body, parse_id_list, parse_polygon

log = logging.getLogger(__name__)

bp = Blueprint("selection", __name__, url_prefix="/api/maps/<dataset>/<metric>")

DEFAULT_ID_PAGE = 10_000


def sample_rows(random_levels: np.ndarray, rows: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """All `rows` if there are at most `size`, else a uniform random `size` of them; sorted.

    The sample is the selection's items in the order the 'random' overlay shows them (its levels
    rank every item by one random permutation), so the first items a user sees are in it; only the
    last level needed is thinned, by a seeded draw, so the same selection gives the same sample."""
    if len(rows) <= size:
        return np.sort(rows)
    levels = np.asarray(random_levels[rows])
    reached = np.cumsum(np.bincount(levels))
    cut = int(np.searchsorted(reached, size))  # the first level by which `size` items are shown
    below, at = rows[levels < cut], np.sort(rows[levels == cut])  # sorted: the same items, the same draw
    extra = np.random.default_rng(seed).choice(len(at), size - len(below), replace=False)
    return np.sort(np.concatenate([below, at[extra]]))


def value_stats(values: np.ndarray) -> dict:
    """Mean, std, min, max and median (all null for an empty selection)."""
    if len(values) == 0:
        return {k: None for k in ("mean", "std", "min", "max", "median")}
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max()), "median": float(np.median(values))}


def scope_rows(reg, dataset: str, built, body: dict, whole: str | None = "filters") -> np.ndarray | None:
    """Rows named by the body: inside its 'polygon' (in map-cell order), or its 'ids' (sorted; 404
    naming an unknown id); None (the whole dataset) when it has neither, provided it has the field
    `whole` (any body when `whole` is None); a 400 for both, or for neither without `whole`."""
    if "polygon" in body and "ids" in body:
        bad_request("the body needs at most one of 'polygon' (a lasso) or 'ids' (a list of item ids)")
    if "polygon" in body:
        return built.index().in_polygon(parse_polygon(body["polygon"]))
    if "ids" in body:
        ds = reg.dataset(dataset)
        return np.unique(np.asarray([reg.row_of(ds, dataset, i) for i in parse_id_list(body["ids"])], dtype=np.int64))
    if whole is not None and whole not in body:
        bad_request("the body needs one of 'polygon' (a lasso), 'ids' (a list of item ids) or 'filters' "
                    "(the whole dataset, filtered)")
    return None


def selected_rows(reg, dataset: str, built, body: dict, whole: str | None = "filters") -> np.ndarray:
    """The scope's rows (`scope_rows`, with its `whole`) that pass the body's `filters`
    (dkmap.server.filters)."""
    source = filters.source_of(reg, dataset)
    chosen = filters.parse_filters(source, body.get("filters"))
    return filters.apply(source, chosen, scope_rows(reg, dataset, built, body, whole=whole))


def body_rank(body: dict) -> str:
    """The body's keyword ranking, `rank`: "lift" (the default) or "frequency"."""
    rank = body.get("rank", "lift")
    if rank not in RANKS:
        bad_request(f"'rank' must be one of {', '.join(RANKS)}, got {rank!r}")
    return rank


def sampled_keywords(reg, dataset: str, built, rows: np.ndarray, rank: str) -> tuple[np.ndarray, dict]:
    """The selection's bounded sample and the keyword view (dkmap.server.ops.keywords) made from it."""
    sample = sample_rows(built.sampling_levels("random"), rows, reg.selection_sample)
    return sample, keyword_view(reg, dataset, sample, population=len(rows), rank=rank)


@bp.post("/selection")
def selection(dataset: str, metric: str):
    """Count and metric statistics of every selected item; positions, ids and keyword histograms
    (METHOD.md §7) of a sample of at most SELECTION_SAMPLE of them (all when fewer), ranked by the
    body's `rank` ("lift", the default, or "frequency"). Accepting an
    Arrow stream: the sample's point columns as the batch, every other field in its metadata."""
    reg = registry()
    built = reg.map(dataset, metric)
    body = json_body()
    rank = body_rank(body)
    # Bounded at a few at a time: a lasso over millions holds its candidate arrays until it answers.
    with reg.selection_slots:
        rows = selected_rows(reg, dataset, built, body)
        stats = value_stats(built.values[rows])
        sample, keywords = sampled_keywords(reg, dataset, built, rows, rank)
    if arrow.wants_arrow():
        fields = {"count": int(len(rows)), "stats": stats, "keywords": keywords,
                  "sample": {"size": int(len(sample)), "sampled": bool(len(sample) < len(rows))}}
        return arrow.stream_response(point_batch(reg, dataset, built, sample), fields)
    text = encode.obj({"count": int(len(rows))}, {
        "stats": encode.obj(stats),
        "sample": points_of(reg, dataset, built, sample,
                            {"size": int(len(sample)), "sampled": bool(len(sample) < len(rows))}),
        "keywords": encode.obj(keywords),
    })
    return json_response(text)


@bp.post("/selection/ids")
def selection_ids(dataset: str, metric: str):
    """One page of the selected items' ids and rows, in row order: `offset`, `limit` (≤ 100000)."""
    reg = registry()
    built = reg.map(dataset, metric)
    body = json_body()
    offset = body_int(body, "offset", 0, 2**53, 0)
    limit = body_int(body, "limit", 1, MAX_SELECTION_IDS, DEFAULT_ID_PAGE)
    with reg.selection_slots:
        rows = np.sort(selected_rows(reg, dataset, built, body))
    page = rows[offset:offset + limit]
    end = offset + len(page)
    text = encode.obj({"count": int(len(rows)), "offset": offset, "next_offset": end if end < len(rows) else None}, {
        "ids": json.dumps(reg.ids(dataset)[page].tolist(), separators=(",", ":")), "rows": encode.int_list(page)})
    return json_response(text)
