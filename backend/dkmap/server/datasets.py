"""`/api/datasets`: the datasets being served, their metrics and which maps are built."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from dkmap.errors import NotFound, Unavailable
from dkmap.server.colouring import colourable
from dkmap.server.errors import error_message
from dkmap.server.registry import registry

log = logging.getLogger(__name__)

bp = Blueprint("datasets", __name__, url_prefix="/api/datasets")


def describe_dataset(name: str) -> dict:
    """The JSON description of one dataset (docs/api.md `GET /api/datasets`)."""
    reg = registry()
    ds = reg.dataset(name)
    built = set(reg.built_metrics(name))
    metrics = []
    for m, info in ds.metrics.items():
        problem = reg.map_problem(name, m) if m in built else None
        entry = {"name": m, "description": info.get("description", ""), "unit": info.get("unit", ""),
                 "better": info.get("better", "higher"),
                 "kind": info.get("kind", "score"), "generators": list(info.get("generators", [])),
                 "built": m in built and problem is None}
        if problem is not None:
            entry["broken"] = error_message(problem)
        metrics.append(entry)
    return {"name": name, "description": ds.meta.get("description", ""), "n_items": ds.n,
            "generators": ds.generators, "metrics": metrics, "spaces": ds.spaces,
            "columns": ds.columns.describe(), "colour_columns": colourable(ds)}


@bp.get("")
def list_all():
    """Every dataset under DATA_DIR; folders that cannot be served are listed under `broken` with
    the reason (a metric whose map cannot be served has `built: false` and its own `broken`)."""
    reg = registry()
    reg.rescan()
    out, broken = [], []
    for name in reg.dataset_names():
        try:
            out.append(describe_dataset(name))
        except NotFound:
            continue   # removed since the scan
        except Unavailable:
            broken.append({"name": name, "reason": error_message(reg.snapshot(name).broken or "unknown")})
    return jsonify({"datasets": out, "broken": broken})
