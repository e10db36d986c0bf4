"""A uniform-grid index over 2-D positions, so viewport and lasso queries touch only nearby items."""

from __future__ import annotations

import numpy as np


class PointIndex:
    """Items bucketed into a `grid`×`grid` lattice over the unit square, stored cell by cell."""

    def __init__(self, positions: np.ndarray, grid: int = 256) -> None:
        if grid < 1:
            raise ValueError(f"grid must be >= 1, got {grid}")
        pos = np.asarray(positions, dtype=np.float32)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"positions must be N×2, got shape {pos.shape}")
        self.grid = grid
        self.n = len(pos)
        cx, cy = self._cells(pos[:, 0]), self._cells(pos[:, 1])
        cell = cy.astype(np.int64) * grid + cx
        self.order = np.argsort(cell, kind="stable").astype(np.int64)
        counts = np.bincount(cell, minlength=grid * grid)
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Positions in cell order, so the exact bbox test reads contiguous memory.
        self.sorted_xy = np.ascontiguousarray(pos[self.order])
        self.inside_unit = bool(self.n == 0 or (pos.min() >= 0 and pos.max() <= 1))

    def _cells(self, v: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(v * self.grid), 0, self.grid - 1).astype(np.int64)

    def candidates(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Indices into the cell order of items whose cell meets `bbox` (a superset of the answer)."""
        x0, y0, x1, y1 = bbox
        if x1 < 0 or y1 < 0 or x0 > 1 or y0 > 1:
            return np.empty(0, dtype=np.int64)
        c0, c1 = int(self._cells(np.float64(x0))), int(self._cells(np.float64(x1)))
        r0, r1 = int(self._cells(np.float64(y0))), int(self._cells(np.float64(y1)))
        if c0 == 0 and c1 == self.grid - 1:
            # Whole rows of cells are one contiguous range.
            return np.arange(self.starts[r0 * self.grid], self.starts[(r1 + 1) * self.grid], dtype=np.int64)
        rows = np.arange(r0, r1 + 1, dtype=np.int64) * self.grid
        lo, hi = self.starts[rows + c0], self.starts[rows + c1 + 1]
        lengths = hi - lo
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        # Concatenate the ranges [lo_i, hi_i) without a Python loop.
        offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(total, dtype=np.int64) + offsets

    def in_bbox(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Item rows with x0 <= x <= x1 and y0 <= y <= y1, in cell order."""
        x0, y0, x1, y1 = bbox
        if x0 <= 0 and y0 <= 0 and x1 >= 1 and y1 >= 1 and self.inside_unit:
            return self.order
        cand = self.candidates(bbox)
        xy = self.sorted_xy[cand]
        keep = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return self.order[cand[keep]]


class LevelledIndex:
    """One PointIndex per sampling level, so "level <= z inside bbox" costs about the answer's size."""

    def __init__(self, positions: np.ndarray, levels: np.ndarray) -> None:
        levels = np.asarray(levels)
        if levels.shape != (len(positions),):
            raise ValueError(f"levels must have one entry per position, got {levels.shape} for {len(positions)}")
        self.max_level = int(levels.max()) if len(levels) else 0
        self._rows: list[np.ndarray] = []
        self._index: list[PointIndex] = []
        for level in range(self.max_level + 1):
            rows = np.flatnonzero(levels == level)
            grid = int(min(256, max(4, np.sqrt(len(rows)))))
            self._rows.append(rows)
            self._index.append(PointIndex(positions[rows], grid=grid))

    def in_bbox(self, bbox: tuple[float, float, float, float], z: int) -> np.ndarray:
        """Rows with sampling level <= z inside `bbox`, coarser levels first."""
        parts = [rows[index.in_bbox(bbox)]
                 for rows, index in zip(self._rows[: max(z, -1) + 1], self._index)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
