"""`/api/maps/<dataset>/<metric>/sprites/<z>/<x>/<y>[/image]`: thumbnail sprite sheets (dkmap.sprites).

A sheet is made on its first request from the dataset's images, kept on disk beside the build and
in memory (LRU bounded by SPRITE_CACHE_BYTES); concurrent requests for one sheet make it once.
"""

from __future__ import annotations

import logging
import time
import zlib

from flask import Blueprint, Response, current_app, jsonify, request

from dkmap import sprites
from dkmap.lru import LRUCache
from dkmap.server.registry import registry
from dkmap.server.validation import parse_int

log = logging.getLogger(__name__)

bp = Blueprint("sprites", __name__, url_prefix="/api/maps/<dataset>/<metric>/sprites/<z>/<x>/<y>")

MAX_SHEET_Z = 24


def _cache(reg) -> LRUCache:
    return reg.once(("sprite-sheets",), lambda: LRUCache(int(current_app.config["SPRITE_CACHE_BYTES"]),
                                                          size_of=lambda s: s.nbytes))


def _sheet(dataset: str, metric: str, z: str, x: str, y: str) -> sprites.Sheet:
    """The sheet named by the URL and the `model` parameter (default: the metric's first generator)."""
    reg = registry()
    built = reg.map(dataset, metric)
    ds = reg.dataset(dataset)
    default = (ds.metrics[metric].get("generators") or ds.generators)[0]
    model = reg.require_generator(ds, dataset, request.args.get("model") or default)
    zi = parse_int("z", z, sprites.SHEET_DEPTH, MAX_SHEET_Z)
    xi = parse_int("x", x, 0, 2**zi - 1)
    yi = parse_int("y", y, 0, 2**zi - 1)
    disk = sprites.SheetDisk(ds.root, metric, built.stamp, model)

    def make() -> sprites.Sheet:
        found = disk.read(zi, xi, yi)
        if found is not None:
            return found
        started = time.perf_counter()
        sheet = sprites.make_sheet(ds, built, model, zi, xi, yi, reg.ids(dataset))
        disk.write(sheet)
        log.info("sprite sheet %s/%s %s %d/%d/%d: %d items, %d bytes in %.0f ms", dataset, metric, model,
                 zi, xi, yi, len(sheet.index["rows"]), len(sheet.image), 1000 * (time.perf_counter() - started))
        return sheet

    return _cache(reg).get_or_compute((dataset, metric, built.stamp, model, zi, xi, yi), make)


@bp.get("")
def sheet_index(dataset: str, metric: str, z: str, x: str, y: str):
    """The sheet's index: per item its row, id, position, value and box in the sheet, and the image URL."""
    sheet = _sheet(dataset, metric, z, x, y)
    model = sheet.index["model"]
    return jsonify({**sheet.index, "image": f"{request.path}/image?model={model}"})


@bp.get("/image")
def sheet_image(dataset: str, metric: str, z: str, x: str, y: str):
    """The sheet's image (WebP), cacheable: it changes only with a rebuild, which changes its ETag."""
    sheet = _sheet(dataset, metric, z, x, y)
    response = Response(sheet.image, mimetype=sprites.IMAGE_TYPE)
    response.set_etag(f"{zlib.crc32(sheet.image):08x}-{len(sheet.image)}")
    response.cache_control.max_age = 3600
    return response.make_conditional(request)
