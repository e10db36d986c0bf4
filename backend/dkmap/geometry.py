"""Point-in-polygon for lasso selections: even-odd rule, vectorised over points per edge.

Points are sorted by y once; each edge tests only the points within its y-span, in blocks of
bounded size: cost ~ N log N plus, per edge, the points in its span (not N × V).

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

# Points per vectorised step: bounds the temporaries to a few MiB however many points fall in
# one edge's span.
_BLOCK_POINTS = 1 << 18


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

    # Sort the candidates by y once: each edge then touches only the points in its y-span
    # [min(y_a, y_b), max(y_a, y_b)), found by binary search. Work ~ N log N + Σ points per span.
    order = np.argsort(pts[cand, 1], kind="stable")
    cand = cand[order]
    px, py = pts[cand, 0], pts[cand, 1]
    odd = np.zeros(cand.size, dtype=bool)
    xb, yb = np.roll(poly[:, 0], -1), np.roll(poly[:, 1], -1)
    for xa, ya, xe, ye in zip(poly[:, 0], poly[:, 1], xb, yb):
        if ya == ye:
            continue  # horizontal edges are crossed by no ray
        start, stop = np.searchsorted(py, (min(ya, ye), max(ya, ye)), side="left")
        dx, dy = xe - xa, ye - ya
        for s0 in range(start, stop, _BLOCK_POINTS):
            s = slice(s0, min(s0 + _BLOCK_POINTS, stop))
            # The crossing lies strictly right of the point; multiplied out, with no division
            # (exact whenever the products are exactly representable).
            cross = dx * (py[s] - ya) - (px[s] - xa) * dy
            odd[s] ^= cross > 0 if dy > 0 else cross < 0
    return np.sort(cand[odd]).astype(np.int64)
