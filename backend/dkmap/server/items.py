"""`/api/datasets/<dataset>/items/<id>`: one item, its nearest images, and its image bytes."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request, send_file

from dkmap.errors import NotFound, Unavailable
from dkmap.server.ops.nearest import nearest
from dkmap.server.errors import error_message
from dkmap.server.registry import registry
from dkmap.server.urls import image_url
from dkmap.server.validation import parse_int

log = logging.getLogger(__name__)

bp = Blueprint("items", __name__, url_prefix="/api/datasets/<dataset>/items/<item_id>")

MAX_K = 100
# Image types served, by their files' first bytes (never the extension: a file named .png may be
# anything, and the browser is told not to guess with X-Content-Type-Options: nosniff).
IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def sniff_image_type(path) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or WebP file from its first bytes; None for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in IMAGE_SIGNATURES if head.startswith(magic)), None)


def _item(dataset: str, item_id: str):
    """The registry, the dataset and the row of `item_id` (NotFound for an unknown dataset or id)."""
    reg = registry()
    ds = reg.dataset(dataset)
    return reg, ds, reg.row_of(ds, dataset, item_id)


def _model_param(ds, dataset: str) -> str:
    """The `model` query parameter (a generator), defaulting to the dataset's first."""
    return registry().require_generator(ds, dataset, request.args.get("model") or ds.generators[0])


@bp.get("")
def item(dataset: str, item_id: str):
    """Prompt, split, metric values, image URLs per generator and the position on each built map (read
    from its positions alone: no map is opened for this); a broken map is left out of `positions`
    and named in `unavailable_maps` with the reason."""
    reg, ds, row = _item(dataset, item_id)
    record = ds.items.iloc[row]
    positions, unavailable = {}, {}
    for metric in reg.built_metrics(dataset):
        try:
            xy = reg.positions(dataset, metric)[row]
        except Unavailable as exc:
            unavailable[metric] = error_message(str(exc))
            continue
        positions[metric] = [float(xy[0]), float(xy[1])]
    return jsonify({
        "id": str(record["id"]), "row": row, "prompt": str(record["prompt"]),
        "split": str(record["split"]),
        "metrics": {m: float(record[m]) for m in ds.metrics},
        "images": {g: image_url(dataset, item_id, g) for g in ds.generators},
        "positions": positions, "unavailable_maps": unavailable,
    })


@bp.get("/similar")
def similar(dataset: str, item_id: str):
    """The k nearest images to this item's image (Faiss inner product), the item itself excluded."""
    reg, ds, row = _item(dataset, item_id)
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
    reg, ds, row = _item(dataset, item_id)
    model = _model_param(ds, dataset)
    try:
        path = ds.image_path(row, model)
    except (KeyError, ValueError) as exc:
        log.warning("image of row %d (%s) refused: %s", row, model, exc)
        raise NotFound(f"no image for item '{item_id}' and model '{model}'") from exc
    if not path.is_file():
        raise NotFound(f"no image file for item '{item_id}' and model '{model}'")
    mimetype = sniff_image_type(path)
    if mimetype is None:
        reg.snapshot(dataset).ensure_current()
        log.warning("image file of row %d (%s) is not a servable image: %s", row, model, path)
        raise NotFound(f"the image file of item '{item_id}' and model '{model}' is not a PNG, "
                       "JPEG, WebP or GIF image")
    handle = open(path, "rb")
    try:
        reg.snapshot(dataset).ensure_current()   # the file opened is this version's (not a re-ingest's)
    except BaseException:
        handle.close()
        raise
    return send_file(handle, mimetype=mimetype, conditional=True, max_age=3600,
                     last_modified=path.stat().st_mtime, etag=False)
