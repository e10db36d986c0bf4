"""`/api/datasets/<dataset>/items/<id>`: one item, its nearest images, and its image bytes."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request, send_file

from dkmap.errors import NotFound
from dkmap.server.ops.nearest import nearest
from dkmap.server.registry import registry
from dkmap.server.urls import image_url
from dkmap.server.validation import parse_int

log = logging.getLogger(__name__)

bp = Blueprint("items", __name__, url_prefix="/api/datasets/<dataset>/items/<item_id>")

MAX_K = 100
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".webp": "image/webp", ".gif": "image/gif"}


def _model_param(ds, dataset: str) -> str:
    """The `model` query parameter (a generator), defaulting to the dataset's first."""
    return registry().require_generator(ds, dataset, request.args.get("model") or ds.generators[0])


@bp.get("")
def item(dataset: str, item_id: str):
    """Prompt, split, metric values, image URLs per generator and the position on each built map (read
    from its positions alone: no map is opened for this)."""
    reg = registry()
    ds = reg.dataset(dataset)
    row = reg.row_of(ds, dataset, item_id)
    record = ds.items.iloc[row]
    positions = {}
    for metric in reg.built_metrics(dataset):
        xy = reg.positions(dataset, metric)[row]
        positions[metric] = [float(xy[0]), float(xy[1])]
    return jsonify({
        "id": str(record["id"]), "row": row, "prompt": str(record["prompt"]),
        "split": str(record["split"]),
        "metrics": {m: float(record[m]) for m in ds.metrics},
        "images": {g: image_url(dataset, item_id, g) for g in ds.generators},
        "positions": positions,
    })


@bp.get("/similar")
def similar(dataset: str, item_id: str):
    """The k nearest images to this item's image (Faiss inner product), the item itself excluded."""
    reg = registry()
    ds = reg.dataset(dataset)
    row = reg.row_of(ds, dataset, item_id)
    model = _model_param(ds, dataset)
    k = parse_int("k", request.args.get("k"), 1, MAX_K, default=8)
    rows, scores = nearest(reg, dataset, model, row, k)
    ids = reg.ids(dataset)
    neighbours = [
        {"id": str(ids[r]), "row": int(r), "score": float(s), "prompt": str(ds.items["prompt"].iat[r]),
         "image": image_url(dataset, str(ids[r]), model)}
        for r, s in zip(rows, scores)
    ]
    return jsonify({"id": str(ids[row]), "model": model, "k": k, "neighbours": neighbours})


@bp.get("/image")
def image(dataset: str, item_id: str):
    """The image file of this item by `model`; its path comes from the dataset row, never the URL."""
    reg = registry()
    ds = reg.dataset(dataset)
    row = reg.row_of(ds, dataset, item_id)
    model = _model_param(ds, dataset)
    try:
        path = ds.image_path(row, model)
    except (KeyError, ValueError) as exc:
        log.warning("image of row %d (%s) refused: %s", row, model, exc)
        raise NotFound(f"no image for item '{item_id}' and model '{model}'") from exc
    mimetype = IMAGE_TYPES.get(path.suffix.lower())
    if mimetype is None or not path.is_file():
        raise NotFound(f"no image file for item '{item_id}' and model '{model}'")
    return send_file(path, mimetype=mimetype, conditional=True, max_age=3600)
