"""Contour tiles of the kernel-regression field over the unit square, at any zoom level.

Level z is a (2^z·T)² grid of cells; cell values are m̂(cell centre) = (1 − s)·μ + s·NW(centre)
with every item a kernel centre. Levels whose grid fits `max_grid` are one global FFT each.
Deeper tiles are computed on demand as near field + far field, all on the cell lattice:
  near: items within `near_margin` cells of the tile, binned at the tile's own resolution, local FFT;
  far:  total − near, both evaluated on the lattice of a level 3 steps coarser (recursively, down to
        a global grid), where the far field is smooth, then cubic-interpolated to the tile's cells.
The near items are binned identically at both resolutions, so their coarse contribution cancels
exactly and the only approximations are linear binning and interpolating a smooth far field.
Where the kernel is narrower than about two cells, linear binning on the cell lattice is too coarse:
the items near each block are then re-binned on a lattice s× finer (s odd, so cell centres stay
lattice nodes) and their cell-lattice contribution is swapped for the fine one.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.ndimage
import torch

from dkmap.contour.binning import bin_linear, lattice_coords
from dkmap.contour.fft import convolve_t_kernel
from dkmap.device import pick_device
from dkmap.lru import LRUCache
from dkmap.projection.kernel import Kernel

log = logging.getLogger(__name__)

GLOBAL_PAD = 8      # nodes around the unit square on global grids (coarse windows reach past edges)
INTERP_PAD = 4      # coarse nodes around a window for cubic interpolation
COARSEN_STEPS = 3   # far field from a lattice at most 2^3 times coarser
MARGIN_COARSE_CELLS = 32
SPACING_PER_WIDTH = 0.25  # automatic oversampling: lattice spacing ≤ 0.25 × kernel half-width
MAX_OVERSAMPLE = 7
OVERSAMPLED_MARGIN = 16  # cells around a block whose items are re-binned on the finer lattice
OVERSAMPLED_LATTICE = 1024  # fine-lattice nodes a side per block of that correction (bounds memory)
# Global grids kept per field: deep tiles of each level take their far field from one (z, α_z)
# grid, so a map with many deep levels needs one per level (68 MB each at max_grid 2048); never
# fewer than 4 of the largest grids.
GLOBAL_CACHE_BYTES = 640 << 20


def cell_centres(z: int, tile_size: int, tx: int, ty: int) -> np.ndarray:
    """(T·T, 2) centres (x, y) of the cells of tile (z, tx, ty), row-major (rows ↔ y)."""
    n = tile_size << z
    x = (tx * tile_size + np.arange(tile_size) + 0.5) / n
    y = (ty * tile_size + np.arange(tile_size) + 0.5) / n
    xx, yy = np.meshgrid(x, y)
    return np.column_stack([xx.ravel(), yy.ravel()])


class ContourField:
    """Evaluates the contour of items at (unit-square) positions for any level, α and tile."""

    def __init__(self, positions: np.ndarray, values: np.ndarray, kernel: Kernel, tile_size: int = 256,
                 max_grid: int = 2048, oversample: int | None = None, near_margin: int | None = None,
                 device: str | torch.device | None = None):
        positions = np.asarray(positions, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2 or len(positions) == 0:
            raise ValueError(f"positions must be a non-empty (n, 2) array, got {positions.shape}")
        if values.shape != (len(positions),):
            raise ValueError(f"values must have shape ({len(positions)},), got {values.shape}")
        if positions.min() < 0.0 or positions.max() > 1.0:
            raise ValueError("positions must lie in the unit square [0, 1]²")
        if tile_size < 4 or tile_size & (tile_size - 1):
            raise ValueError(f"tile_size must be a power of two ≥ 4, got {tile_size}")
        if oversample is not None and (oversample < 1 or oversample % 2 == 0):
            raise ValueError(f"oversample must be None (automatic) or an odd int ≥ 1, got {oversample}")
        order = np.argsort(positions[:, 0], kind="stable")
        self.positions = positions[order]
        self.values = values[order]
        self.kernel = kernel
        self.tile_size = tile_size
        self.max_grid = max_grid
        self.oversample = oversample
        self.near_margin = near_margin or tile_size
        self.device = pick_device(device)
        # thread-safe: concurrent deep tiles compute a missing global grid once
        largest = 2 * 8 * (max_grid + 2 * GLOBAL_PAD) ** 2  # sums and counts, float64
        self._globals = LRUCache(max(GLOBAL_CACHE_BYTES, 4 * largest),
                                 size_of=lambda t: t.element_size() * t.nelement())

    @property
    def precomputed_levels(self) -> int:
        """Levels 0..L−1 can be stored whole (2^z·T ≤ max_grid)."""
        z = 0
        while (self.tile_size << z) <= self.max_grid:
            z += 1
        return z

    def oversampling(self, z: int, alpha: float) -> int:
        """Lattice nodes per cell side at level z: odd, so cell centres are nodes; automatic keeps the
        lattice spacing ≤ a quarter of the kernel's half-width α^(−1/2β), where linear binning is accurate."""
        if self.oversample is not None:
            return self.oversample
        cell = 1.0 / (self.tile_size << z)
        width = float(alpha) ** (-0.5 / self.kernel.beta)
        s = int(np.ceil(cell / (SPACING_PER_WIDTH * width)))
        s = min(MAX_OVERSAMPLE, max(1, s))
        return s if s % 2 else s + 1

    def has_global(self, z: int) -> bool:
        """Whether level z's cell lattice is one global FFT (2^z·T ≤ max_grid; level 0 always)."""
        return z == 0 or (self.tile_size << z) <= self.max_grid

    # -- public evaluation -------------------------------------------------------------------------
    def level_grid(self, z: int, alpha: float | None = None) -> np.ndarray:
        """The full (2^z·T)² float64 grid of m̂ at level z (needs 2^z·T ≤ max_grid)."""
        if z >= self.precomputed_levels:
            raise ValueError(f"level {z} exceeds max_grid={self.max_grid}; use tile()")
        alpha = self.kernel.alpha if alpha is None else alpha
        n = self.tile_size << z
        sums = self.window_sums(z, 0, 0, n, n, alpha)
        if self.oversampling(z, alpha) > 1:
            sums = sums + self._oversampled_correction(z, 0, 0, n, n, alpha)
        return self.kernel.estimate(sums[0], sums[1])

    def tile(self, z: int, tx: int, ty: int, alpha: float | None = None) -> np.ndarray:
        """Tile (z, tx, ty) as a (T, T) float64 array of m̂; any level, deep ones by near + far field."""
        if not 0 <= tx < (1 << z) or not 0 <= ty < (1 << z):
            raise ValueError(f"tile ({z}, {tx}, {ty}) is outside level {z} (0 ≤ x, y < {1 << z})")
        alpha = self.kernel.alpha if alpha is None else alpha
        T = self.tile_size
        sums = self.window_sums(z, ty * T, tx * T, T, T, alpha)
        if self.oversampling(z, alpha) > 1:
            sums = sums + self._oversampled_correction(z, ty * T, tx * T, T, T, alpha)
        return self.kernel.estimate(sums[0], sums[1])

    def window_sums(self, z: int, row0: int, col0: int, rows: int, cols: int, alpha: float) -> np.ndarray:
        """(2, rows, cols) NW numerator and denominator at cell centres of level z (float64), with
        items binned on the cell lattice."""
        if self.has_global(z):
            pad = GLOBAL_PAD
            n = self.tile_size << z
            if row0 < -pad or col0 < -pad or row0 + rows > n + pad or col0 + cols > n + pad:
                raise ValueError(f"window ({row0}, {col0}, {rows}, {cols}) exceeds level {z} grid")
            g = self._global(z, alpha)
            return g[:, row0 + pad: row0 + pad + rows, col0 + pad: col0 + pad + cols].cpu().numpy()
        return self._near_far(z, row0, col0, rows, cols, alpha)

    # -- internals ---------------------------------------------------------------------------------
    def binned_global(self, z: int) -> torch.Tensor:
        """Metric sum and count of every item on level z's padded global lattice, binned once for
        every α (the only step of a deep tile whose cost grows with the number of items)."""
        def compute() -> torch.Tensor:
            n = self.tile_size << z
            return self._bin_global(n, (-GLOBAL_PAD, -GLOBAL_PAD, n + 2 * GLOBAL_PAD, n + 2 * GLOBAL_PAD))

        return self._globals.get_or_compute(("binned", z), compute)

    def _global(self, z: int, alpha: float) -> torch.Tensor:
        def compute() -> torch.Tensor:
            return convolve_t_kernel(self.binned_global(z), 1.0 / (self.tile_size << z), alpha,
                                     self.kernel.beta, self.device)

        return self._globals.get_or_compute((z, float(alpha)), compute)

    def _bin_global(self, n: int, window: tuple[int, int, int, int]) -> torch.Tensor:
        """Metric sum and count of every item on the level lattice of n cells a side (a hook:
        the Dask engine bins partitions on workers and sums them instead)."""
        return bin_linear(self.positions, self.values, n, window, self.device)

    def _select(self, r: int, row0: int, col0: int, rows: int, cols: int) -> np.ndarray:
        """Indices of items whose bilinear stencil at resolution r lies inside the node window."""
        lo_x, hi_x = (col0 + 0.5) / r, (col0 + cols - 1 + 0.5) / r
        a, b = np.searchsorted(self.positions[:, 0], [lo_x, hi_x])
        idx = np.arange(a, b)
        u = lattice_coords(self.positions[idx], r)
        keep = ((u[:, 0] >= col0) & (u[:, 0] < col0 + cols - 1)
                & (u[:, 1] >= row0) & (u[:, 1] < row0 + rows - 1))
        return idx[keep]

    def _local(self, idx: np.ndarray, r: int, window: tuple[int, int, int, int], alpha: float) -> np.ndarray:
        grids = bin_linear(self.positions[idx], self.values[idx], r, window, self.device)
        return convolve_t_kernel(grids, 1.0 / r, alpha, self.kernel.beta, self.device).cpu().numpy()

    def _oversampled_correction(self, z: int, row0: int, col0: int, rows: int, cols: int,
                                alpha: float) -> np.ndarray:
        """Where the kernel is narrower than a cell: the items within OVERSAMPLED_MARGIN cells, binned
        on a lattice s× finer minus the same items binned on the cell lattice (blocks bound memory)."""
        s = self.oversampling(z, alpha)
        n = self.tile_size << z
        m = OVERSAMPLED_MARGIN
        block = max(32, OVERSAMPLED_LATTICE // s - 2 * m)
        out = np.zeros((2, rows, cols))
        for r0 in range(row0, row0 + rows, block):
            for c0 in range(col0, col0 + cols, block):
                br, bc = min(block, row0 + rows - r0), min(block, col0 + cols - c0)
                window = (r0 - m, c0 - m, br + 2 * m, bc + 2 * m)
                idx = self._select(n, *window)
                if not len(idx):
                    continue
                coarse = self._local(idx, n, window, alpha)[:, m:m + br, m:m + bc]
                fine_window = (window[0] * s - 1, window[1] * s - 1, window[2] * s + 2, window[3] * s + 2)
                fine = self._local(idx, n * s, fine_window, alpha)
                start = m * s + 1 + (s - 1) // 2
                fine = fine[:, start: start + br * s: s, start: start + bc * s: s]
                out[:, r0 - row0: r0 - row0 + br, c0 - col0: c0 - col0 + bc] = fine - coarse
        return out

    def _near_far(self, z: int, row0: int, col0: int, rows: int, cols: int, alpha: float) -> np.ndarray:
        n = self.tile_size << z
        # the far field comes from the nearest global level, at most COARSEN_STEPS levels up
        zc = max(z - COARSEN_STEPS, min(z - 1, self.precomputed_levels - 1))
        nc = self.tile_size << zc
        f = n // nc
        # far items must be ≥ MARGIN_COARSE_CELLS coarse cells away for binning and interpolation there
        m = max(self.near_margin, MARGIN_COARSE_CELLS * f)
        near_window = (row0 - m, col0 - m, rows + 2 * m, cols + 2 * m)
        near_idx = self._select(n, *near_window)
        near = self._local(near_idx, n, near_window, alpha)[:, m:m + rows, m:m + cols]

        # fine cell j sits at coarse lattice coordinate (j + 0.5)/f − 0.5
        uy = (np.arange(row0, row0 + rows) + 0.5) / f - 0.5
        ux = (np.arange(col0, col0 + cols) + 0.5) / f - 0.5
        cr0, cc0 = int(np.floor(uy[0])) - INTERP_PAD, int(np.floor(ux[0])) - INTERP_PAD
        crows = int(np.floor(uy[-1])) + INTERP_PAD + 1 - cr0
        ccols = int(np.floor(ux[-1])) + INTERP_PAD + 1 - cc0
        total_c = self.window_sums(zc, cr0, cc0, crows, ccols, alpha)
        # the near items binned on the coarse lattice, over a window holding them and the coarse window
        nr0 = min(cr0, (row0 - m) // f - 1)
        nc0 = min(cc0, (col0 - m) // f - 1)
        nr1 = max(cr0 + crows, -(-(row0 + rows + m) // f) + 2)
        nc1 = max(cc0 + ccols, -(-(col0 + cols + m) // f) + 2)
        near_c = self._local(near_idx, nc, (nr0, nc0, nr1 - nr0, nc1 - nc0), alpha)
        near_c = near_c[:, cr0 - nr0: cr0 - nr0 + crows, cc0 - nc0: cc0 - nc0 + ccols]
        far_c = total_c - near_c
        yy, xx = np.meshgrid(uy - cr0, ux - cc0, indexing="ij")
        coords = np.stack([yy.ravel(), xx.ravel()])
        far = np.stack([scipy.ndimage.map_coordinates(far_c[k], coords, order=3, mode="nearest")
                        .reshape(rows, cols) for k in range(2)])
        return near + far


def level_grid(field: ContourField, z: int, alpha: float, mask=None) -> np.ndarray:
    """Precomputed level z as float32 (2^z·T)² with masked cells NaN (mask: a FarMask or None)."""
    grid = field.level_grid(z, alpha).astype(np.float32)
    if mask is not None:
        mask.apply_grid(grid, z, field.tile_size)
    return grid


def compute_tile(field: ContourField, z: int, tx: int, ty: int, alpha: float, mask=None) -> np.ndarray:
    """Tile (z, tx, ty) of any level as float32 (T, T), masked cells NaN; for levels not stored."""
    tile = field.tile(z, tx, ty, alpha).astype(np.float32)
    if mask is not None:
        mask.apply_grid(tile, z, field.tile_size, tx, ty)
    return tile
