"""An uploaded image checked before anything reads it: size-capped, PNG/JPEG/WebP only, decoded and
verified by Pillow, held in memory only (never written anywhere)."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 768 * 1024       # below waitress's 1 MiB body cap, with room for the form around it
MAX_IMAGE_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG", "WEBP")
SIGNATURES = {"PNG": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "JPEG": lambda b: b.startswith(b"\xff\xd8\xff"),
              "WebP": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"}


class ImageError(ValueError):
    """An upload that is not a usable image; the message names the field and what is wrong."""


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """The RGB image in `data` (ImageError naming `name` when too big, not PNG/JPEG/WebP, or broken)."""
    if not data:
        raise ImageError(f"'{name}' is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"'{name}' is {len(data)} bytes; at most {MAX_IMAGE_BYTES} are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
                _check_pixels(probe.size, name)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:
                img.load()
                return img.convert("RGB")
    except ImageError:
        raise
    except UnidentifiedImageError:
        claimed = next((fmt for fmt, matches in SIGNATURES.items() if matches(data)), None)
        if claimed is None:
            raise ImageError(f"'{name}' is not a PNG, JPEG or WebP image") from None
        raise ImageError(f"'{name}' starts like a {claimed} file but could not be decoded") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"'{name}' could not be decoded ({exc})") from None


def _check_pixels(size: tuple[int, int], name: str) -> None:
    w, h = size
    if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
        raise ImageError(f"'{name}' is {w}×{h} pixels; at most {MAX_IMAGE_PIXELS} pixels are accepted")
