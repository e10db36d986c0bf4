"""`/api/datasets`: the datasets being served, their metrics and which maps are built."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from dkmap.data.store import DatasetError
from dkmap.errors import NotFound, Unavailable
from dkmap.server.registry import registry

log = logging.getLogger(__name__)

bp = Blueprint("datasets", __name__, url_prefix="/api/datasets")


def describe_dataset(name: str) -> dict:
    """The JSON description of one dataset (docs/api.md `GET /api/datasets`)."""
    reg = registry()
    ds = reg.dataset(name)
    built = set(reg.built_metrics(name))
    metrics = [
        {"name": m, "description": info.get("description", ""), "unit": info.get("unit", ""),
         "kind": info.get("kind", "score"), "generators": list(info.get("generators", [])),
         "built": m in built}
        for m, info in ds.metrics.items()
    ]
    return {"name": name, "description": ds.meta.get("description", ""), "n_items": ds.n,
            "generators": ds.generators, "metrics": metrics, "spaces": ds.spaces,
            "columns": ds.columns.describe()}


@bp.get("")
def list_all():
    """Every readable dataset under DATA_DIR; unreadable folders are logged and left out."""
    reg = registry()
    reg.rescan()
    out = []
    for name in reg.dataset_names():
        try:
            out.append(describe_dataset(name))
        except (DatasetError, NotFound, Unavailable) as exc:
            log.warning("skipping dataset folder '%s': %s", name, exc)
    return jsonify({"datasets": out})
