"""The contour tiles of a built map: stored levels sliced from memory-mapped grids, deeper ones computed.

Deeper tiles are computed on demand (`compute_tile`) and kept in a bounded LRU cache. Different deep
tiles are computed at the same time (torch's FFTs and the numpy/scipy array work release the GIL);
concurrent requests for one missing tile compute it once. Tiles below a leaf of the subdivision (too
few items, or no detail gained) are resampled from that leaf, so they stay consistent with what the
leaf shows. The map folder itself (files, manifest, positions) is `dkmap.maps`'s.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.ndimage

from dkmap.contour.mask import FarMask
from dkmap.contour.tiles import ContourField, compute_tile
from dkmap.lru import LRUCache
from dkmap.maps.layout import level_file
from dkmap.maps.manifest import Manifest

log = logging.getLogger(__name__)

TILE_CACHE_BYTES = 64 << 20  # deep tiles kept per map: 256 tiles of 256² float32


class TileStore:
    """Every level's T×T tiles of one built map: stored grids, and deep tiles computed and cached."""

    def __init__(self, root: Path, manifest: Manifest, positions: np.ndarray,
                 load_values: Callable[[], np.ndarray], levels: dict[int, np.ndarray] | None = None):
        self.root = root
        self.manifest = manifest
        self.tile_size = manifest.tile_size
        self.max_level = manifest.max_level
        self.positions = positions
        self._load_values = load_values
        # The stored grids, as the map read them (dkmap.maps.arrays), or memory-mapped here.
        self._levels = levels if levels is not None else {
            z: np.load(root / level_file(z), mmap_mode="r") for z in manifest.stored_levels}
        self._alphas = manifest.alphas
        self._leaves = manifest.detail_leaves
        self._field: ContourField | None = None
        self._mask: FarMask | None = None
        self._sorted_x: np.ndarray | None = None
        self._stored_counts: dict[tuple[int, int, int], int] = {}
        self._cache = LRUCache(TILE_CACHE_BYTES, size_of=lambda tile: tile.nbytes)
        self._parts_lock = threading.Lock()

    def alpha(self, z: int) -> float:
        """α used at level z (the last level's α below it)."""
        return self._alphas.get(z, self._alphas[max(self._alphas)])

    def tile(self, z: int, x: int, y: int) -> np.ndarray:
        """Tile (z, x, y) as a (T, T) float32 array, NaN where masked; rows ↔ y, columns ↔ x."""
        self._check_tile(z, x, y)
        if z in self._levels:
            T = self.tile_size
            return np.array(self._levels[z][y * T:(y + 1) * T, x * T:(x + 1) * T], dtype=np.float32)
        return self._cache.get_or_compute((z, x, y), lambda: self._compute(z, x, y)).copy()

    def cache_info(self) -> dict[str, int]:
        """The deep-tile cache: tiles held, their bytes, and how many tiles were computed so far."""
        return {"tiles": len(self._cache), "bytes": self._cache.size, "computed": self._cache.computed}

    def is_leaf(self, z: int, x: int, y: int) -> bool:
        """No finer tiles under (z, x, y): deepest level, too few items, or no detail gained."""
        self._check_tile(z, x, y)
        if z >= self.max_level or (x, y) in self._leaves.get(z, ()):
            return True
        return self.count_in_tile(z, x, y) < self.manifest.subdivide_min_points

    def leaf_ancestor(self, z: int, x: int, y: int) -> tuple[int, int, int] | None:
        """The shallowest proper ancestor of (z, x, y) that is a leaf, or None."""
        for za in range(z):
            shift = z - za
            if self.is_leaf(za, x >> shift, y >> shift):
                return za, x >> shift, y >> shift
        return None

    def count_in_tile(self, z: int, x: int, y: int) -> int:
        """Items whose position falls in tile (z, x, y)."""
        if z < len(self._levels):   # the few stored-level tiles are every deep tile's ancestors: count once
            key = (z, x, y)
            if key not in self._stored_counts:
                self._stored_counts[key] = self._count(z, x, y)
            return self._stored_counts[key]
        return self._count(z, x, y)

    def _count(self, z: int, x: int, y: int) -> int:
        n = 1 << z
        by_x = self._positions_by_x()
        a, b = np.searchsorted(by_x[:, 0], [x / n, (x + 1) / n])
        ys = by_x[a:b, 1]
        return int(np.count_nonzero((ys >= y / n) & (ys < (y + 1) / n)))

    # -- internals ---------------------------------------------------------------------------------
    def _positions_by_x(self) -> np.ndarray:
        """Positions sorted by x (float64), for counting items per tile; sorted once."""
        if self._sorted_x is None:
            order = np.argsort(self.positions[:, 0], kind="stable")
            self._sorted_x = np.asarray(self.positions[order], dtype=np.float64)
        return self._sorted_x

    def _check_tile(self, z: int, x: int, y: int) -> None:
        for name, v in (("z", z), ("x", x), ("y", y)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"tile {name} must be an int, got {type(v).__name__}")
        if not 0 <= z <= self.max_level:
            raise ValueError(f"tile level z={z} is outside 0..{self.max_level}")
        if not (0 <= x < (1 << z) and 0 <= y < (1 << z)):
            raise ValueError(f"tile x={x}, y={y} is outside level {z} (0 ≤ x, y < {1 << z})")

    def _compute(self, z: int, x: int, y: int) -> np.ndarray:
        """Deep tile (z, x, y): resampled from its leaf ancestor, else near + far field."""
        leaf = self.leaf_ancestor(z, x, y)
        if leaf is not None:
            return self._resample(leaf, z, x, y)
        field, mask = self._compute_parts()
        return compute_tile(field, z, x, y, self.alpha(z), mask)

    @property
    def has_deep_levels(self) -> bool:
        """Whether some level is computed on request rather than stored."""
        return self.max_level >= len(self._levels)

    def prepare_deep_tiles(self) -> None:
        """Do now the deep tiles' work whose cost grows with the number of items (sorting positions,
        field and mask set-up, binning every item on the global lattice under the far fields), so that the first
        deep tile a user asks for costs what any other does; a no-op without deep levels."""
        if not self.has_deep_levels:
            return
        self._positions_by_x()   # every deep tile first checks its ancestors' item counts
        field, _ = self._compute_parts()
        field.binned_global(field.precomputed_levels - 1)   # every deep far field recurses down to it

    def _compute_parts(self) -> tuple[ContourField, FarMask | None]:
        """The contour field and far mask, built on the first deep tile (once, under concurrency)."""
        with self._parts_lock:
            if self._field is None:
                self._build_parts()
        return self._field, self._mask

    def _build_parts(self) -> None:
        positions = np.asarray(self.positions, dtype=np.float64)
        radius = self.manifest.mask_radius
        if radius is not None:
            self._mask = FarMask(positions, radius)
        s = self.manifest.contour_settings()
        self._field = ContourField(positions, self._load_values(), self.manifest.kernel, self.tile_size,
                                   int(s["max_grid"]), s["oversample"], s["near_margin"])

    def _resample(self, leaf: tuple[int, int, int], z: int, x: int, y: int) -> np.ndarray:
        """Bilinear values of leaf tile at the cell centres of (z, x, y) (NaN stays NaN)."""
        zl, xl, yl = leaf
        source = self.tile(zl, xl, yl)
        T = self.tile_size
        f = 1 << (z - zl)
        # cell c of the deep tile, in the leaf tile's cell coordinates (centres at integers)
        cy = ((y * T + np.arange(T) + 0.5) / f - yl * T - 0.5).clip(0, T - 1)
        cx = ((x * T + np.arange(T) + 0.5) / f - xl * T - 0.5).clip(0, T - 1)
        yy, xx = np.meshgrid(cy, cx, indexing="ij")
        out = scipy.ndimage.map_coordinates(np.nan_to_num(source), [yy, xx], order=1, mode="nearest")
        nan = scipy.ndimage.map_coordinates(np.isnan(source).astype(np.float32), [yy, xx], order=0,
                                            mode="nearest") > 0.5
        out[nan] = np.nan
        return out.astype(np.float32)
