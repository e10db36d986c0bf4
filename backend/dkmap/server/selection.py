"""`POST /api/maps/<dataset>/<metric>/selection`: the items inside a lasso, their stats and keywords."""

from __future__ import annotations

import json
import logging

import numpy as np
from flask import Blueprint

from dkmap.server import encode
from dkmap.server.maps import json_response
from dkmap.server.registry import registry
from dkmap.server.validation import bad_request, json_body, parse_id_list, parse_polygon

log = logging.getLogger(__name__)

bp = Blueprint("selection", __name__, url_prefix="/api/maps/<dataset>/<metric>")


def rows_in_polygon(served, polygon: np.ndarray) -> np.ndarray:
    """Sorted rows whose position lies inside `polygon` (grid prefilter by its bbox, then exact test)."""
    from dkmap.geometry import points_in_polygon

    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    cand = served.index().in_bbox((float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
    if len(cand) == 0:
        return cand
    inside = points_in_polygon(np.asarray(served.positions[cand], dtype=np.float64), polygon)
    return np.sort(cand[inside])  # `inside` indexes `cand`, which is in grid-cell order


def value_stats(values: np.ndarray) -> dict:
    """Mean, std, min, max and median (all null for an empty selection)."""
    if len(values) == 0:
        return {k: None for k in ("mean", "std", "min", "max", "median")}
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max()), "median": float(np.median(values))}


@bp.post("/selection")
def selection(dataset: str, metric: str):
    """Rows and ids inside the polygon (or of the listed ids), metric statistics, and the keyword
    histograms (METHOD.md §7)."""
    reg = registry()
    served = reg.map(dataset, metric)
    body = json_body()
    if ("polygon" in body) == ("ids" in body):
        bad_request("the body needs exactly one of 'polygon' (a lasso) or 'ids' (a list of item ids)")
    if "polygon" in body:
        rows = rows_in_polygon(served, parse_polygon(body["polygon"]))
    else:
        ds = reg.dataset(dataset)
        rows = np.unique([reg.row_of(ds, dataset, i) for i in parse_id_list(body["ids"])])
    ids = reg.ids(dataset)[rows]
    stats = value_stats(reg.metric_values(dataset, metric)[rows])
    keywords = reg.keyword_view(dataset, rows)
    text = encode.obj({"count": int(len(rows))}, {
        "rows": encode.int_list(rows),
        "ids": json.dumps(ids.tolist(), separators=(",", ":")),
        "stats": encode.obj(stats),
        "keywords": encode.obj(keywords),
    })
    return json_response(text)
