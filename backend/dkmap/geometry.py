"""Point-in-polygon for lasso selections: vectorised, chunked, exact on the even-odd rule.

Edges are half-open: a point counts as inside when a ray from it towards +x crosses the boundary
an odd number of times, with an edge spanning y ∈ [min(y_a, y_b), max(y_a, y_b)) and crossings
counted strictly to the right of the point. So points on a left or lower edge (smaller x or y)
are inside and points on a right or upper edge are outside; where polygons tile the plane, a
point on a shared edge or vertex belongs to exactly one of them. Self-intersecting polygons
follow the even-odd rule (overlaps of two loops are outside).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

# Booleans per (point, edge) block: 2^22 keeps a block's temporaries near 100 MiB.
_BLOCK_ELEMENTS = 1 << 22


def _as_xy(name: str, arr: object) -> np.ndarray:
    try:
        out = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array of shape (n, 2)") from exc
    if out.ndim != 2 or out.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {out.shape}")
    return out


def points_in_polygon(positions: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Ascending int64 rows of `positions` (N×2) inside `polygon` (V×2, V ≥ 3, open or closed).

    Rows with NaN coordinates are never inside."""
    pts = _as_xy("positions", positions)
    poly = _as_xy("polygon", polygon)
    if len(poly) >= 2 and np.array_equal(poly[0], poly[-1]):
        poly = poly[:-1]
    if len(poly) < 3:
        raise ValueError(f"polygon needs at least 3 distinct vertices, got {len(poly)}")
    if not np.isfinite(poly).all():
        raise ValueError("polygon has a non-finite vertex")

    lo, hi = poly.min(axis=0), poly.max(axis=0)
    # Only points in the polygon's bounding box can be inside (NaN compares False: dropped).
    cand = np.flatnonzero((pts[:, 0] >= lo[0]) & (pts[:, 0] <= hi[0]) & (pts[:, 1] >= lo[1]) & (pts[:, 1] <= hi[1]))
    if cand.size == 0:
        return cand.astype(np.int64)

    xa, ya = poly[:, 0], poly[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    dx, dy = xb - xa, yb - ya
    up = dy > 0
    v = len(poly)
    edge_step = max(1, min(v, _BLOCK_ELEMENTS // 1024))
    point_step = max(1024, _BLOCK_ELEMENTS // edge_step)
    inside = np.zeros(cand.size, dtype=bool)
    for p0 in range(0, cand.size, point_step):
        px = pts[cand[p0:p0 + point_step], 0][:, None]
        py = pts[cand[p0:p0 + point_step], 1][:, None]
        odd = np.zeros(px.shape[0], dtype=bool)
        for e0 in range(0, v, edge_step):
            e = slice(e0, e0 + edge_step)
            spans = (ya[e] > py) != (yb[e] > py)
            # The crossing lies strictly right of the point; multiplied out, no division (exact
            # for coordinates the products represent exactly).
            cross = dx[e] * (py - ya[e]) - (px - xa[e]) * dy[e]
            right = np.where(up[e], cross > 0, cross < 0)
            odd ^= np.logical_xor.reduce(spans & right, axis=1)
        inside[p0:p0 + point_step] = odd
    return cand[inside].astype(np.int64)
