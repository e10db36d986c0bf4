"""Draws a scene with Pillow: shapes on a grid of jittered cells, then the style's finish."""

from __future__ import annotations

import functools
import io
import logging
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dkmap.data.demo.grammar import (BACKGROUNDS, CANVAS, CELL, COLOURS, RADIUS, SHAPES, STYLES, Group,
                                     Scene, region)

log = logging.getLogger(__name__)

ENCODER_SIZE = 64  # side of the downsampled copy the image tower sees


def _regular(n: int, inner: float | None = None, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
    points = []
    steps = n * (2 if inner else 1)
    for k in range(steps):
        radius = inner if inner and k % 2 else 1.0
        angle = phase + 2 * math.pi * k / steps
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return points


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in np.linspace(a0, a1, n)]


@functools.lru_cache(maxsize=None)
def unit_shape(shape: str) -> tuple[tuple[float, float], ...]:
    """Outline of `shape` as polygon points within the unit disc (y grows downwards)."""
    if shape == "circle" or shape == "ring":
        pts = _regular(32)
    elif shape == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif shape == "triangle":
        pts = _regular(3)
        pts = [(x, y + 0.2) for x, y in pts]
    elif shape == "star":
        pts = _regular(5, inner=0.42)
    elif shape == "hexagon":
        pts = _regular(6, phase=0.0)
    elif shape == "pentagon":
        pts = _regular(5)
    elif shape == "diamond":
        pts = [(0, -1), (0.65, 0), (0, 1), (-0.65, 0)]
    elif shape == "heart":
        t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = list(zip(x, y - 2.5))
    elif shape == "cross":
        a, b = 0.32, 0.95
        pts = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a)]
    elif shape == "crescent":
        # Blunt tips: thin ones fall apart into stray pixels at small sizes.
        outer = _arc(0, 0, 1.0, math.pi / 3, 5 * math.pi / 3, 24)
        inner = _arc(0.45, 0, 0.7, 2 * math.pi - 1.33, 1.33, 20)
        pts = outer + inner
    elif shape == "arrow":
        pts = [(-1, -0.28), (0.15, -0.28), (0.15, -0.75), (1, 0), (0.15, 0.75), (0.15, 0.28), (-1, 0.28)]
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    # Fit the unit disc, so any rotation stays inside the object's cell.
    scale = max(math.hypot(x, y) for x, y in pts)
    return tuple((float(x / scale), float(y / scale)) for x, y in pts)


def _placed(points, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (c * x - s * y), cy + r * (s * x + c * y)) for x, y in points]


def layout(group: Group, relation: str | None, which: str, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Centres and rotations of the group's objects: distinct random cells of its region, jittered."""
    x0, y0, x1, y1 = region(relation, which)
    cols, rows = int((x1 - x0) // CELL[group.size]), int((y1 - y0) // CELL[group.size])
    if group.count > cols * rows:
        raise ValueError(f"{group.count} {group.size} objects do not fit a {cols}x{rows} grid")
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    r = RADIUS[group.size]
    cells = rng.permutation(cols * rows)[:group.count]
    out = []
    for cell in cells:
        col, row = divmod(int(cell), rows)
        jx, jy = max(cw / 2 - r - 1, 0), max(ch / 2 - r - 1, 0)
        cx = x0 + (col + 0.5) * cw + rng.uniform(-jx, jx)
        cy = y0 + (row + 0.5) * ch + rng.uniform(-jy, jy)
        out.append((cx, cy, rng.uniform(-0.2, 0.2)))
    return out


def _shadow_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    if sum(background) > 300:
        return tuple(int(c * 0.55) for c in background)
    return tuple(min(255, c + 80) for c in background)


def _draw_object(draw: ImageDraw.ImageDraw, shape: str, colour, cx, cy, r, angle, style: str, shadow) -> None:
    pts = _placed(unit_shape(shape), cx, cy, r, angle)
    if style == "shadowed":
        off = max(2.0, r * 0.25)
        shadow_pts = [(x + off, y + off) for x, y in pts]
        if shape == "ring":
            draw.polygon(shadow_pts, outline=shadow, width=max(2, int(r * 0.45)))
        else:
            draw.polygon(shadow_pts, fill=shadow)
    if shape == "ring":
        if style == "outlined":
            draw.polygon(pts, outline=colour, width=2)
            draw.polygon(_placed(unit_shape("circle"), cx, cy, r * 0.5, angle), outline=colour, width=2)
        else:
            draw.polygon(pts, outline=colour, width=max(2, int(r * 0.45)))
    elif style == "outlined":
        draw.polygon(pts, outline=colour, width=2 if r < 10 else 3)
    else:
        draw.polygon(pts, fill=colour)


def render(scene: Scene, seed: int) -> Image.Image:
    """The CANVAS×CANVAS RGB picture of `scene`; `seed` fixes layout and grain."""
    if scene.style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {scene.style!r}")
    rng = np.random.default_rng(seed)
    bg = BACKGROUNDS[scene.background]
    img = Image.new("RGB", (CANVAS, CANVAS), bg)
    draw = ImageDraw.Draw(img)
    shadow = _shadow_colour(bg)
    for which in ("first", "second"):
        group = getattr(scene, which)
        if group is None:
            continue
        for cx, cy, angle in layout(group, scene.relation, which, rng):
            _draw_object(draw, group.shape, COLOURS[group.colour], cx, cy, RADIUS[group.size], angle,
                         scene.style, shadow)
    if scene.style == "blurred":
        img = img.filter(ImageFilter.GaussianBlur(2.2))
    elif scene.style == "noisy":
        # Coarse 2-px grain in a few levels: clearly noisy, yet small as a PNG.
        grain = rng.choice(np.array([-45, 0, 0, 45], dtype=np.int16), size=(CANVAS // 2, CANVAS // 2, 1))
        grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)
        arr = np.clip(np.asarray(img, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
    return img


def encoder_pixels(img: Image.Image) -> np.ndarray:
    """The ENCODER_SIZE² uint8 RGB array the image tower sees (box-downsampled render)."""
    return np.asarray(img.reduce(CANVAS // ENCODER_SIZE), dtype=np.uint8)


def png_bytes(img: Image.Image) -> bytes:
    """PNG encoding of a render, small on disk."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
