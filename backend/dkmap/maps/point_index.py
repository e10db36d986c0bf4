"""A uniform-grid index over 2-D positions, so viewport and lasso queries touch only nearby items."""

from __future__ import annotations

import numpy as np


class PointIndex:
    """Items bucketed into a `grid`×`grid` lattice over the unit square, stored cell by cell."""

    def __init__(self, positions: np.ndarray, grid: int = 256, test_every_item_below: int = 50_000) -> None:
        if grid < 1:
            raise ValueError(f"grid must be >= 1, got {grid}")
        pos = np.asarray(positions, dtype=np.float32)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"positions must be N×2, got shape {pos.shape}")
        self.grid = grid
        # Lassos whose bounding box holds at most this many items test each of them directly.
        self.test_every_item_below = test_every_item_below
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
        return _concatenated_ranges(self.starts[rows + c0], self.starts[rows + c1 + 1])

    def in_bbox(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Item rows with x0 <= x <= x1 and y0 <= y <= y1, in cell order."""
        x0, y0, x1, y1 = bbox
        if x0 <= 0 and y0 <= 0 and x1 >= 1 and y1 >= 1 and self.inside_unit:
            return self.order
        cand = self.candidates(bbox)
        xy = self.sorted_xy[cand]
        keep = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return self.order[cand[keep]]

    def in_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Item rows inside `polygon` (V×2, the even-odd rule of dkmap.geometry), in cell order.

        Cells that no polygon edge meets are wholly inside or outside, so only their centre is
        tested; items are tested one by one only in the cells along the boundary. A lasso over
        millions of items then costs about its perimeter, not its area."""
        from dkmap.geometry import points_in_polygon

        poly = np.asarray(polygon, dtype=np.float64)
        (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
        if self.n == 0 or (self.inside_unit and (x1 < 0 or y1 < 0 or x0 > 1 or y0 > 1)):
            return np.empty(0, dtype=np.int64)
        c0, c1 = int(self._cells(np.float64(x0))), int(self._cells(np.float64(x1)))
        r0, r1 = int(self._cells(np.float64(y0))), int(self._cells(np.float64(y1)))
        cols, rows = np.arange(c0, c1 + 1), np.arange(r0, r1 + 1)
        box_lo, box_hi = self.starts[rows * self.grid + c0], self.starts[rows * self.grid + c1 + 1]
        if int((box_hi - box_lo).sum()) <= self.test_every_item_below:
            # Classifying cells costs ~1 ms: for a few items, test each (clipped border cells included).
            cand = _concatenated_ranges(box_lo, box_hi)
            return self.order[cand[points_in_polygon(self.sorted_xy[cand], poly)]]
        boundary = self._cells_met_by_edges(poly, c0, r0, len(cols), len(rows))
        if not self.inside_unit:  # border cells also hold the items clipped into them from outside
            boundary[:, [0, -1]] |= (cols[[0, -1]] == 0) | (cols[[0, -1]] == self.grid - 1)
            boundary[[0, -1], :] |= ((rows[[0, -1]] == 0) | (rows[[0, -1]] == self.grid - 1))[:, None]
        cell_col, cell_row = np.tile(cols, len(rows)), np.repeat(rows, len(cols))  # row-major, as `boundary`
        inside = np.zeros(boundary.size, dtype=bool)
        inside[points_in_polygon(np.column_stack([cell_col + 0.5, cell_row + 0.5]) / self.grid, poly)] = True
        cell_ids = cell_row * self.grid + cell_col
        whole = cell_ids[inside & ~boundary.ravel()]
        edge = cell_ids[boundary.ravel()]
        tested = self._cell_members(edge)
        hits = tested[points_in_polygon(self.sorted_xy[tested], poly)]
        return self.order[np.concatenate([self._cell_members(whole), hits])]

    def _cells_met_by_edges(self, poly: np.ndarray, c0: int, r0: int, n_cols: int, n_rows: int) -> np.ndarray:
        """n_rows × n_cols mask of the cells (from column c0, row r0) that a polygon edge may touch:
        the edge's bounding box overlaps the cell, slightly widened, and the cell's corners are not all
        strictly on one side of the edge's line (conservative, so rounding can only add cells)."""
        met = np.zeros((n_rows, n_cols), dtype=bool)
        pad = 1e-9
        for (xa, ya), (xb, yb) in zip(poly, np.roll(poly, -1, axis=0)):
            ca0 = max(int(self._cells(np.float64(min(xa, xb) - pad))), c0)
            ca1 = min(int(self._cells(np.float64(max(xa, xb) + pad))), c0 + n_cols - 1)
            ra0 = max(int(self._cells(np.float64(min(ya, yb) - pad))), r0)
            ra1 = min(int(self._cells(np.float64(max(ya, yb) + pad))), r0 + n_rows - 1)
            if ca0 > ca1 or ra0 > ra1:
                continue
            cx = np.arange(ca0, ca1 + 2) / self.grid  # cell corners along x, then y
            cy = np.arange(ra0, ra1 + 2) / self.grid
            side = (xb - xa) * (cy[:, None] - ya) - (yb - ya) * (cx[None, :] - xa)  # corners' side of the line
            scale = pad * (abs(xb - xa) + abs(yb - ya) + 1)
            pos, neg = side > -scale, side < scale
            # a cell is met unless its four corners are all clearly on the same side
            any_pos = pos[:-1, :-1] | pos[1:, :-1] | pos[:-1, 1:] | pos[1:, 1:]
            any_neg = neg[:-1, :-1] | neg[1:, :-1] | neg[:-1, 1:] | neg[1:, 1:]
            met[ra0 - r0:ra1 - r0 + 1, ca0 - c0:ca1 - c0 + 1] |= any_pos & any_neg
        return met

    def _cell_members(self, cells: np.ndarray) -> np.ndarray:
        """Indices into the cell order of every item in `cells`."""
        return _concatenated_ranges(self.starts[cells], self.starts[cells + 1])


def _concatenated_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The ranges [lo_i, hi_i) one after another, without a Python loop."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


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
