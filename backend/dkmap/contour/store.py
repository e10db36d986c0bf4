"""Loads a built map (DATASET/maps/<metric>/) for serving: validated files, memory-mapped arrays, tiles.

Stored levels are sliced from memory-mapped grids; deeper tiles are computed on demand
(`compute_tile`) and kept in a bounded LRU cache. Different deep tiles are computed at the same time
(torch's FFTs and the numpy/scipy array work release the GIL); concurrent requests for one missing
tile compute it once. Tiles below a leaf of the subdivision (too few items, or
no detail gained) are resampled from that leaf, so they stay consistent with what the leaf shows.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import scipy.ndimage

from dkmap.atomic import sha256_file
from dkmap.contour.mask import FarMask
from dkmap.contour.tiles import ContourField, Kernel, compute_tile
from dkmap.lru import LRUCache

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("dataset", "metric", "n_items", "kernel", "colour_domain", "value_range", "tile_size",
                 "max_level", "precomputed_levels", "levels", "subdivision", "mask", "files", "settings")
TILE_CACHE_BYTES = 64 << 20  # deep tiles kept per map: 256 tiles of 256² float32


class MapError(ValueError):
    """A built map is missing, corrupted or inconsistent; the message names the file and the problem."""


class BuiltMap:
    """One built map: manifest, positions, sampling levels and contour tiles of every level."""

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest
        self.tile_size = int(manifest["tile_size"])
        self.max_level = int(manifest["max_level"])
        self.n_items = int(manifest["n_items"])
        self.positions = np.load(root / "positions.npy", mmap_mode="r")
        self.sampling = {name: np.load(root / f"sampling_{name}.npy", mmap_mode="r")
                         for name in ("bluenoise", "random")}
        self._levels = {z: np.load(root / "levels" / f"level_{z}.npy", mmap_mode="r")
                        for z in manifest["precomputed_levels"]}
        self._alphas = {int(lv["z"]): float(lv["alpha"]) for lv in manifest["levels"]}
        self._leaves = {int(z): {tuple(t) for t in tiles}
                        for z, tiles in manifest["subdivision"].get("detail_leaves", {}).items()}
        self._field: ContourField | None = None
        self._mask: FarMask | None = None
        self._sorted_x: np.ndarray | None = None
        self._stored_counts: dict[tuple[int, int, int], int] = {}
        self._cache = LRUCache(TILE_CACHE_BYTES, size_of=lambda tile: tile.nbytes)
        self._parts_lock = threading.Lock()

    @property
    def colour_domain(self) -> tuple[float, float]:
        lo, hi = self.manifest["colour_domain"]
        return float(lo), float(hi)

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

    def is_leaf(self, z: int, x: int, y: int) -> bool:
        """No finer tiles under (z, x, y): deepest level, too few items, or no detail gained."""
        self._check_tile(z, x, y)
        if z >= self.max_level or (x, y) in self._leaves.get(z, ()):
            return True
        return self.count_in_tile(z, x, y) < int(self.manifest["subdivision"]["min_points"])

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

    def items_at_level(self, z: int, sampling: str = "bluenoise") -> np.ndarray:
        """Bool per item: shown in overlay mode at level z."""
        if sampling not in self.sampling:
            raise ValueError(f"sampling must be one of {sorted(self.sampling)}, got {sampling!r}")
        return np.asarray(self.sampling[sampling]) <= z

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
        k = self.manifest["kernel"]
        s = self.manifest["settings"]
        values = np.load(self.root / "values.npy")
        positions = np.asarray(self.positions, dtype=np.float64)
        if self.manifest["mask"]["enabled"]:
            self._mask = FarMask(positions, float(self.manifest["mask"]["radius"]))
        self._field = ContourField(positions, values,
                                   Kernel(float(k["alpha"]), float(k["beta"]), float(k["scale"]), float(k["m_mean"])),
                                   self.tile_size, int(s.get("max_grid", 2048)), s.get("oversample"),
                                   s.get("near_margin"))

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


def open_map(dataset_dir: str | os.PathLike, metric: str, verify: bool = True) -> BuiltMap:
    """Open DATASET/maps/<metric>/; MapError when it is missing, corrupted or does not match itself.

    verify=True checks every file's SHA-256 against the manifest (about 0.1 s per 40 MB).
    """
    root = Path(dataset_dir) / "maps" / metric
    path = root / "manifest.json"
    if not path.is_file():
        raise MapError(f"no built map for metric {metric!r}: {path} is missing (run `dkmap build`)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MapError(f"{path}: unreadable manifest ({err})") from err
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise MapError(f"{path}: manifest lacks {missing}")
    if manifest["metric"] != metric:
        raise MapError(f"{path}: manifest is for metric {manifest['metric']!r}, not {metric!r}")
    for rel, info in manifest["files"].items():
        file = root / rel
        if not file.is_file():
            raise MapError(f"{file}: listed in the manifest but missing")
        if file.stat().st_size != info["bytes"]:
            raise MapError(f"{file}: {file.stat().st_size} bytes, the manifest says {info['bytes']}")
        if verify and sha256_file(file) != info["sha256"]:
            raise MapError(f"{file}: checksum differs from the manifest (corrupted or replaced)")
    _check_shapes(root, manifest)
    return BuiltMap(root, manifest)


def _check_shapes(root: Path, manifest: dict) -> None:
    n, T = int(manifest["n_items"]), int(manifest["tile_size"])
    expected = {"positions.npy": ((n, 2), np.float32), "values.npy": ((n,), np.float64),
                "sampling_bluenoise.npy": ((n,), np.uint8), "sampling_random.npy": ((n,), np.uint8)}
    for z in manifest["precomputed_levels"]:
        expected[f"levels/level_{z}.npy"] = (((T << z), (T << z)), np.float32)
    for rel, (shape, dtype) in expected.items():
        file = root / rel
        if not file.is_file():
            raise MapError(f"{file}: missing")
        try:
            arr = np.load(file, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise MapError(f"{file}: not a readable .npy array ({err})") from err
        if arr.shape != shape or arr.dtype != dtype:
            raise MapError(f"{file}: shape {arr.shape} {arr.dtype}, expected {shape} {np.dtype(dtype)}")
    levels = [int(lv["z"]) for lv in manifest["levels"]]
    if levels != list(range(int(manifest["max_level"]) + 1)):
        raise MapError(f"{root / 'manifest.json'}: levels {levels} do not cover 0..{manifest['max_level']}")
