"""`POST /api/maps/<dataset>/<metric>/histograms`: per-column histograms of a scope (the view's bbox,
a lasso, listed ids or the whole dataset) under the body's filters, beside the whole dataset's.

Bins are fixed per dataset (numbers and times: `bins` equal bins over the whole column's finite
range; categories: the TOP_VALUES most frequent values and an "other" bucket), so bars line up as
the view changes. Crossfilter rule: each column's counts apply every filter except those on that
column, so a column's own filter never empties its own histogram. Counts are exact for any size:
one vectorised pass per column over the scope's rows.
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, jsonify

from dkmap.server import filters
from dkmap.server.colouring import colourable
from dkmap.server.registry import registry
from dkmap.server.selection import scope_rows
from dkmap.server.validation import bad_request, body_bbox, body_int, json_body

bp = Blueprint("histograms", __name__, url_prefix="/api/maps/<dataset>/<metric>")

DEFAULT_BINS = 24
MAX_BINS = 100
MAX_COLUMNS = 64


def default_columns(source: filters.ColumnSource, metric: str) -> list[str]:
    """The map's metric, the other metrics, split, then every metadata column that is not free text."""
    return [metric] + [name for name in colourable(source.ds) if name != metric]


def _columns(source: filters.ColumnSource, raw, metric: str) -> list[str]:
    if raw is None:
        return default_columns(source, metric)
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw) or not 1 <= len(raw) <= MAX_COLUMNS:
        bad_request(f"field 'columns' must be a list of 1 to {MAX_COLUMNS} column names")
    for name in raw:
        kind = source.kind(name)
        if kind is None:
            bad_request(f"field 'columns': unknown column {name!r} (dataset '{source.dataset}' has: "
                        f"{', '.join(default_columns(source, metric))})")
        if kind == "text":
            bad_request(f"field 'columns': column {name!r} is free text, which has no histogram")
    return list(dict.fromkeys(raw))


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _numeric_counts(values: np.ndarray, edges: np.ndarray) -> tuple[list[int], int]:
    finite = np.isfinite(values)
    counts, _ = np.histogram(values[finite], bins=len(edges) - 1, range=(edges[0], edges[-1]))
    return counts.tolist(), int(len(values) - finite.sum())


def _category_counts(codes: np.ndarray, n_listed: int) -> tuple[list[int], int]:
    present = codes[codes >= 0]
    counts = np.bincount(np.minimum(present, n_listed), minlength=n_listed + 1)
    return counts.tolist(), int(len(codes) - len(present))


def column_layout(reg, source: filters.ColumnSource, name: str, bins: int) -> dict:
    """A column's fixed bins and its whole-dataset counts (once per dataset version and `bins`)."""
    def load():
        kind = source.kind(name)
        if kind in ("number", "time"):
            values = source.numeric(name)
            finite = values[np.isfinite(values)]
            edges = _edges(float(finite.min()), float(finite.max()), bins) if len(finite) else _edges(0.0, 1.0, bins)
            counts, missing = _numeric_counts(values, edges)
            return {"name": name, "kind": kind, "edges": edges.tolist(), "dataset": counts, "missing_dataset": missing}
        listed = source.values(name)[:filters.TOP_VALUES]
        counts, missing = _category_counts(source.codes(name), len(listed))
        return {"name": name, "kind": kind, "values": listed, "dataset": counts, "missing_dataset": missing}
    key = (name, bins) if source.kind(name) in ("number", "time") else (name,)
    return reg.once(("histogram-layout", source.dataset, *key), load)


def _group_masks(source, chosen: filters.Filters, rows) -> dict[str, np.ndarray]:
    """Per filtered column, the mask of its filters over the scope (each cached like any filter list)."""
    groups: dict[str, list] = {}
    for f in chosen.items:
        groups.setdefault(f.column, []).append(f)
    return {c: filters.evaluate(source, filters.Filters(tuple(fs)), rows) for c, fs in groups.items()}


@bp.post("/histograms")
def histograms(dataset: str, metric: str):
    """Histograms of `columns` over the scope ∩ `filters` (each without its own column's filters),
    with the whole dataset's counts for drawing behind."""
    reg = registry()
    built = reg.map(dataset, metric)
    body = json_body()
    source = filters.source_of(reg, dataset)
    chosen = filters.parse_filters(source, body.get("filters"))
    names = _columns(source, body.get("columns"), metric)
    bins = body_int(body, "bins", 1, MAX_BINS, DEFAULT_BINS)
    if "bbox" in body and ("polygon" in body or "ids" in body):
        bad_request("the body needs at most one of 'bbox' (the view), 'polygon' (a lasso) or 'ids'")
    with reg.selection_slots:
        rows = built.index().in_bbox(body_bbox(body["bbox"])) if "bbox" in body else scope_rows(
            reg, dataset, built, body, whole=None)
        n_scope = source.n if rows is None else int(len(rows))
        masks = _group_masks(source, chosen, rows)
        every = np.ones(n_scope, dtype=bool)
        for m in masks.values():
            every = every & m
        out = []
        for name in names:
            layout = column_layout(reg, source, name, bins)
            keep = every
            if name in masks:
                keep = np.ones(n_scope, dtype=bool)
                for other, m in masks.items():
                    if other != name:
                        keep = keep & m
            if layout["kind"] in ("number", "time"):
                values = source.numeric(name) if rows is None else source.numeric(name)[rows]
                counts, missing = _numeric_counts(values[keep], np.asarray(layout["edges"]))
                bounds = {"edges": layout["edges"]}
            else:
                codes = source.codes(name) if rows is None else source.codes(name)[rows]
                counts, missing = _category_counts(codes[keep], len(layout["values"]))
                bounds = {"values": layout["values"]}
            out.append({"name": name, "kind": layout["kind"], **bounds, "counts": counts,
                        "dataset": layout["dataset"], "missing": missing,
                        "missing_dataset": layout["missing_dataset"], "own_filters_ignored": name in masks})
    return jsonify({"n_scope": n_scope, "n": int(every.sum()), "bins": bins, "columns": out})
