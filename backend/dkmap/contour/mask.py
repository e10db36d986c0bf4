"""Masking of cells far from every item (no data there): a setting, recorded in the manifest."""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)


class FarMask:
    """Marks points farther than `radius` (unit square) from every item."""

    def __init__(self, positions: np.ndarray, radius: float):
        if radius <= 0:
            raise ValueError(f"mask radius must be > 0, got {radius}")
        self.radius = float(radius)
        self._tree = cKDTree(np.asarray(positions, dtype=np.float64))

    def far(self, points: np.ndarray) -> np.ndarray:
        """Bool per point: no item within `radius`."""
        dist, _ = self._tree.query(points, k=1, distance_upper_bound=self.radius, workers=-1)
        return ~np.isfinite(dist)

    def apply_grid(self, grid: np.ndarray, z: int, tile_size: int, tx: int = 0, ty: int = 0) -> np.ndarray:
        """Set masked cells of a grid (a whole level, or tile (tx, ty) when smaller) to NaN, in place."""
        rows, cols = grid.shape
        n = tile_size << z
        x = (tx * tile_size + np.arange(cols) + 0.5) / n
        y = (ty * tile_size + np.arange(rows) + 0.5) / n
        for r0 in range(0, rows, 256):  # bounded memory on large levels
            yy, xx = np.meshgrid(y[r0:r0 + 256], x, indexing="ij")
            far = self.far(np.column_stack([xx.ravel(), yy.ravel()]))
            grid[r0:r0 + 256][far.reshape(yy.shape)] = np.nan
        return grid
