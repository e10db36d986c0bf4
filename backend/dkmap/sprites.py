"""Sprite sheets of item thumbnails: one image per map tile and generator, with an index of its cells.

Sheet (z, x, y) holds the items of tile (z, x, y) whose blue-noise overlay level is at most
z − SHEET_DEPTH, i.e. what the points endpoint lists for that box at that level. Blue-noise items of
level ≤ L are about r0/2^L apart, so a tile SHEET_DEPTH levels finer than L holds about
0.7 / (4^SHEET_DEPTH · r0²) of them: a hundred at the default r0 = 1/48, a sheet of some tens of kB.
The sample is nested (level ≤ z), so deeper sheets only add items. Items are taken in the tile's
half-open box, so each is in exactly one sheet of a level.

This module owns the on-disk cache DATASET/sprites/<metric>/<build stamp>/<generator>/: for each
sheet `<z>-<x>-<y>.webp` and its index `<z>-<x>-<y>.json`, written atomically (the index last, with
the image's size, so a sheet is complete exactly when its index reads back and matches).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

log = logging.getLogger(__name__)

SHEET_DEPTH = 2
CELL = 64                # px per thumbnail cell (the thumbnail fits inside, keeping its aspect ratio)
MAX_ITEMS = 400          # a sheet holds at most this many (coarser levels first, so nesting holds)
IMAGE_TYPE = "image/webp"
WEBP_QUALITY = 80
SPRITES = "sprites"
FORMAT = 1               # the index's format; another is rebuilt, never misread
PLACEHOLDER_BG = (214, 214, 210)
PLACEHOLDER_FG = (150, 150, 146)
# Decoding is bounded: a source image above this many pixels is refused (Pillow's bomb guard raises).
Image.MAX_IMAGE_PIXELS = 64_000_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Sheet:
    """A sheet's index (JSON-ready dict) and its image bytes."""

    index: dict
    image: bytes

    @property
    def nbytes(self) -> int:
        return len(self.image) + 256 * len(self.index["rows"]) + 512


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """[x0, y0, x1, y1] of tile (z, x, y) in unit-square map coordinates."""
    n = 1 << z
    return (x / n, y / n, (x + 1) / n, (y + 1) / n)


def in_half_open(xy: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Bool per position: inside [x0, x1) × [y0, y1), the right and bottom edges of the map included."""
    x0, y0, x1, y1 = bounds
    x, y = xy[:, 0], xy[:, 1]
    in_x = (x >= x0) & ((x < x1) | ((x1 >= 1) & (x <= x1)))
    in_y = (y >= y0) & ((y < y1) | ((y1 >= 1) & (y <= y1)))
    return in_x & in_y


def sheet_rows(built, z: int, x: int, y: int) -> tuple[np.ndarray, int]:
    """Rows of sheet (z, x, y) (blue-noise level ≤ z − SHEET_DEPTH, coarser first, at most MAX_ITEMS)
    and how many items the tile holds at that level."""
    if z < SHEET_DEPTH:
        raise ValueError(f"sprite sheets start at tile level {SHEET_DEPTH}, got {z}")
    bounds = tile_bounds(z, x, y)
    rows = built.levelled("bluenoise").in_bbox(bounds, z - SHEET_DEPTH)
    rows = rows[in_half_open(np.asarray(built.positions[rows]), bounds)]
    return rows[:MAX_ITEMS], int(len(rows))


def thumbnail(path: Path) -> tuple[Image.Image, str | None]:
    """The image at `path` fitted to CELL × CELL (RGB, aspect kept), or a placeholder and the reason
    it could not be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (CELL, CELL))  # JPEG decodes at a reduced scale directly
            img = ImageOps.exif_transpose(img)
            rgb = _flatten(img)
        return fit(rgb), None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        return placeholder(), f"{type(exc).__name__}: {exc}"


def fit(img: Image.Image) -> Image.Image:
    """`img` scaled (up or down) to fit CELL × CELL, aspect ratio kept, at least one pixel a side."""
    scale = CELL / max(img.width, img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _flatten(img: Image.Image) -> Image.Image:
    """RGB of any mode; transparency composited over white."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img.convert("RGB")


def placeholder() -> Image.Image:
    """A grey cell with a cross: an image that could not be read."""
    img = Image.new("RGB", (CELL, CELL), PLACEHOLDER_BG)
    draw = ImageDraw.Draw(img)
    draw.line([(12, 12), (CELL - 13, CELL - 13)], fill=PLACEHOLDER_FG, width=4)
    draw.line([(12, CELL - 13), (CELL - 13, 12)], fill=PLACEHOLDER_FG, width=4)
    return img


def grid_shape(n: int) -> tuple[int, int]:
    """(columns, rows) of cells for n thumbnails: near-square, at least one cell."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return cols, max(1, math.ceil(n / cols))


def make_sheet(ds, built, generator: str, z: int, x: int, y: int, ids: np.ndarray) -> Sheet:
    """Build sheet (z, x, y) of `generator`'s images: each thumbnail centred in its cell, the index
    giving per item its row, id, position, value and content box [sx, sy, w, h] in the sheet."""
    rows, total = sheet_rows(built, z, x, y)
    cols, n_rows = grid_shape(len(rows))
    sheet = Image.new("RGB", (cols * CELL, n_rows * CELL), (255, 255, 255))
    boxes, problems = [], {}
    for i, row in enumerate(rows.tolist()):
        try:
            path = ds.image_path(row, generator)
        except (KeyError, ValueError) as exc:
            thumb, reason = placeholder(), f"no image path: {exc}"
        else:
            thumb, reason = thumbnail(path)
        if reason is not None:
            problems[str(row)] = reason
            log.warning("thumbnail of row %d (%s) is a placeholder: %s", row, generator, reason)
        cx, cy = (i % cols) * CELL, (i // cols) * CELL
        ox, oy = cx + (CELL - thumb.width) // 2, cy + (CELL - thumb.height) // 2
        sheet.paste(thumb, (ox, oy))
        boxes.append([ox, oy, thumb.width, thumb.height])
    buf = io.BytesIO()
    sheet.save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
    xy = np.asarray(built.positions[rows], dtype=np.float32)
    index = {
        "format": FORMAT, "z": z, "x": x, "y": y, "level": z - SHEET_DEPTH, "model": generator,
        "cell": CELL, "width": sheet.width, "height": sheet.height, "total": total,
        "capped": total > len(rows), "image_type": IMAGE_TYPE, "image_bytes": buf.tell(),
        "rows": rows.tolist(), "ids": [str(v) for v in ids[rows]],
        "x_pos": xy[:, 0].tolist(), "y_pos": xy[:, 1].tolist(),
        "values": [float(v) if math.isfinite(v) else None for v in np.asarray(built.values[rows]).tolist()],
        "boxes": boxes, "problems": problems,
    }
    return Sheet(index, buf.getvalue())


class SheetDisk:
    """The on-disk cache of one map's sheets for one build; `read` returns None for anything missing,
    partial or of another format, `write` is atomic and silently skipped where the folder is read-only
    (the caller keeps the sheet in memory)."""

    def __init__(self, dataset_root: Path, metric: str, stamp: int, generator: str) -> None:
        name = generator if _SAFE_NAME.match(generator) else f"g{abs(hash(generator)):x}"
        self.folder = Path(dataset_root) / SPRITES / metric / str(stamp) / name
        self._warned = False

    def _paths(self, z: int, x: int, y: int) -> tuple[Path, Path]:
        stem = f"{z}-{x}-{y}"
        return self.folder / f"{stem}.webp", self.folder / f"{stem}.json"

    def read(self, z: int, x: int, y: int) -> Sheet | None:
        image_path, index_path = self._paths(z, x, y)
        try:
            index = json.loads(index_path.read_text())
            image = image_path.read_bytes()
        except (OSError, ValueError):
            return None
        if index.get("format") != FORMAT or index.get("image_bytes") != len(image):
            return None
        return Sheet(index, image)

    def write(self, sheet: Sheet) -> None:
        z, x, y = sheet.index["z"], sheet.index["x"], sheet.index["y"]
        image_path, index_path = self._paths(z, x, y)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(image_path, sheet.image)
            _atomic_write(index_path, json.dumps(sheet.index, separators=(",", ":")).encode())
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("sprite sheets of %s are kept in memory only: %s", self.folder, exc)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
