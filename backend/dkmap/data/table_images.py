"""The images an input table carries as bytes: checked and written to a staging folder as the table is
read (dkmap.data.tables' `on_batch` hook), so that only their stored names stay in memory; the
staging folder becomes the dataset's images/ folder when the dataset is written, or is removed.
Also the one check of a single image (readable, not a decompression bomb) that ingest applies to
every image, from a file or from bytes."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from dkmap.data.store import DatasetError
from dkmap.data.tables import IMAGE_FORMATS, image_payloads

DEFAULT_GENERATOR = "main"


def check_generator_name(name: str) -> str:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise DatasetError(f"table: generator name '{name}' must be letters, digits, '-' or '_'")
    return name


def stored_image_name(generator: str, item_id: str, suffix: str) -> str:
    """Where image bytes from the table are stored under images/: GENERATOR/ID.EXT (a hash of the id
    when it is not a plain file name)."""
    stem = item_id if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}", item_id) else \
        hashlib.sha1(item_id.encode()).hexdigest()[:20]
    return f"{generator}/{stem}{suffix}"


def image_format(source: Path | bytes, where: str) -> str | None:
    """Pillow's name for the format of a readable image ('' when it has none); None when Pillow cannot
    read it; DatasetError (naming `where`) for a possible decompression bomb."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as im:
                im.verify()
                return im.format or ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DatasetError(f"{where}: refused as a possible decompression bomb "
                           f"({_pixels(exc)} pixels, more than Pillow's limit of {Image.MAX_IMAGE_PIXELS} "
                           "pixels, PIL.Image.MAX_IMAGE_PIXELS); resize it") from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        return None


def _pixels(exc: Exception) -> str:
    """The pixel count Pillow's decompression-bomb message names ('an unknown number of' if none)."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return match.group(1) if match else "an unknown number of"


class ImageStaging:
    """A folder beside the dataset folder `out` that receives the table's image bytes while it is read.

    `stage` is read_table's on_batch hook: in each piece it replaces image bytes by their stored name
    (GENERATOR/ID.EXT) after checking and writing them; path cells are left as they are. Afterwards
    `from_bytes` tells, per table row, whether its image came as bytes, and `unreadable` names the
    rows whose bytes are not an image. Use as a context manager: the folder goes on exit unless the
    dataset writer has taken it."""

    def __init__(self, out: Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.images-", dir=out.parent))
        self.unreadable: list[str] = []
        self._flags: list[np.ndarray] = []
        self._made: set[str] = set()

    def __enter__(self) -> "ImageStaging":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def from_bytes(self) -> np.ndarray:
        return np.concatenate(self._flags) if self._flags else np.zeros(0, dtype=bool)

    def stage(self, piece: pd.DataFrame, first_row: int) -> pd.DataFrame:
        if "image" not in piece.columns or "id" not in piece.columns:
            self._flags.append(np.zeros(len(piece), dtype=bool))
            return piece   # ingest's column check names what is missing
        payloads = image_payloads(piece["image"], first_row)
        flags = np.array([isinstance(p, bytes) for p in payloads], dtype=bool)
        self._flags.append(flags)
        if not flags.any():
            return piece
        generators = (piece["generator"].astype(str).tolist() if "generator" in piece.columns
                      else [DEFAULT_GENERATOR] * len(piece))
        names = list(payloads)
        for k in np.flatnonzero(flags):
            data, row = payloads[k], first_row + int(k)
            fmt = image_format(data, f"image bytes of row {row}")
            if fmt is None:
                self.unreadable.append(f"row {row} (bytes)")
            suffix = IMAGE_FORMATS.get(fmt or "", ".img")
            names[k] = stored_image_name(check_generator_name(generators[k]), str(piece["id"].iat[k]), suffix)
            self._write(names[k], data)
        return piece.assign(image=names)

    def _write(self, rel: str, data: bytes) -> None:
        generator = rel.split("/", 1)[0]
        if generator not in self._made:
            (self.folder / generator).mkdir(exist_ok=True)
            self._made.add(generator)
        (self.folder / rel).write_bytes(data)

    def discard(self, rels) -> None:
        """Remove staged images of rows ingest dropped (so they do not linger in images/)."""
        for rel in rels:
            (self.folder / rel).unlink(missing_ok=True)
