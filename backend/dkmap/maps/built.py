"""One built map folder (DATASET/maps/<metric>/) opened: its arrays, tiles, sampling, index and projector.

`open_map(map_dir)` validates the folder against its manifest and memory-maps the arrays; the
projector, the contour's deep-tile machinery and the spatial indexes are set up on first use.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from dkmap.atomic import sha256_file
from dkmap.contour.store import TileStore
from dkmap.maps import layout
from dkmap.maps.arrays import IN_MEMORY_BYTES, MapArrays
from dkmap.maps.manifest import Manifest, MapError
from dkmap.maps.point_index import LevelledIndex, PointIndex
from dkmap.projection.kernel import Kernel

log = logging.getLogger(__name__)

SAMPLINGS = (*layout.SAMPLINGS, "all")


class BuiltMap:
    """A built map: positions (N×2, unit square), per-item values, contour tiles of every level,
    overlay sampling levels, spatial indexes, and the projector that places new items."""

    def __init__(self, root: Path, manifest: Manifest, memory_budget: int = IN_MEMORY_BYTES):
        self.root = root
        self.manifest = manifest
        self.metric = manifest.metric
        self.n_items = manifest.n_items
        self.stamp = layout.manifest_path(root).stat().st_mtime_ns   # changes when the map is rebuilt
        self.arrays = MapArrays(root, memory_budget)   # small arrays read, large ones memory-mapped
        self.positions: np.ndarray = self.arrays.load(layout.POSITIONS)
        self.values: np.ndarray = self.arrays.load(layout.VALUES)
        self.sampling = {name: self.arrays.load(layout.sampling_file(name)) for name in layout.SAMPLINGS}
        levels = {z: self.arrays.load(layout.level_file(z)) for z in manifest.stored_levels}
        self.tiles = TileStore(root, manifest, self.positions, lambda: np.array(self.values), levels)
        self._lock = threading.Lock()
        self._index: PointIndex | None = None
        self._levelled: dict[str, LevelledIndex] = {}
        self._projector = None
        self.deep_tiles_ready = threading.Event()

    def check_files(self) -> None:
        """MapError when a memory-mapped file of the map changed on disk since it was opened (reading
        it could then kill the process); the server calls this before each request uses the map."""
        self.arrays.check()

    # ---- description -----------------------------------------------------------------------------
    @property
    def kernel(self) -> Kernel:
        """The level-0 kernel in unit-square coordinates (α_0, β, s, μ)."""
        return self.manifest.kernel

    @property
    def tile_size(self) -> int:
        return self.manifest.tile_size

    @property
    def max_level(self) -> int:
        return self.manifest.max_level

    @property
    def n_stored_levels(self) -> int:
        """How many levels (0, 1, ...) are stored as whole grids; deeper ones are computed on request."""
        return len(self.manifest.stored_levels)

    @property
    def colour_domain(self) -> tuple[float, float]:
        return self.manifest.colour_domain

    @property
    def feature_spaces(self) -> list[str]:
        """The embedding spaces whose concatenation (in this order) is the projected feature, from the
        dataset.yaml of the dataset folder holding this map."""
        from dkmap.data.store import feature_spaces, read_meta

        return feature_spaces(read_meta(self.root.parent.parent), self.metric)

    def alpha(self, z: int) -> float:
        """α used at level z (the last level's α below it)."""
        return self.tiles.alpha(z)

    # ---- new items ---------------------------------------------------------------------------------
    def transform(self, features) -> np.ndarray:
        """Positions (n, 2) float32 in the unit square of items with `features` (n × D, the
        concatenation of `feature_spaces`): the projector's forward pass, normalised as the build did."""
        projector = self._load_projector()
        raw = projector.transform(features)
        return to_unit_square(raw, self.manifest.normalisation).astype(np.float32)

    def predict(self, positions, level: int = 0) -> np.ndarray:
        """The map's own estimate m̂ at unit-square `positions` (n × 2) with level `level`'s α, from every
        item, computed exactly (O(n · N)); the tiles of that level approximate it (no mask applied)."""
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2 or not np.isfinite(positions).all():
            raise ValueError(f"positions must be a finite (n, 2) array, got shape {positions.shape}")
        kernel = self.kernel.with_alpha(self.alpha(level))
        return kernel.evaluate(positions, np.asarray(self.positions, dtype=np.float64), np.array(self.values))

    def _load_projector(self):
        with self._lock:
            if self._projector is None:
                from dkmap.projection import FittedMap

                self._projector = FittedMap.load(self.root / layout.PROJECTOR)
            return self._projector

    # ---- tiles, sampling and indexes ------------------------------------------------------------
    def tile(self, z: int, x: int, y: int) -> np.ndarray:
        """Tile (z, x, y) as a (T, T) float32 array, NaN where masked; rows ↔ y, columns ↔ x."""
        return self.tiles.tile(z, x, y)

    def image_index_path(self, space: str) -> Path | None:
        """The Faiss index file over embedding `space` (image_<gen>) built with this map; None when the
        manifest lists none for that space."""
        entry = self.manifest.indexes.get(space)
        return None if entry is None else self.root / entry["file"]

    def sampling_levels(self, sampling: str) -> np.ndarray:
        """Per-item first zoom level of `sampling` ('bluenoise' or 'random')."""
        if sampling not in self.sampling:
            raise ValueError(f"sampling must be one of {sorted(self.sampling)}, got {sampling!r}")
        return self.sampling[sampling]

    def items_at_level(self, z: int, sampling: str = "bluenoise") -> np.ndarray:
        """Bool per item: shown in overlay mode at level z."""
        return np.asarray(self.sampling_levels(sampling)) <= z

    def sampling_max_level(self) -> int:
        """The deepest level any item first appears at, over both samplings."""
        return int(max(int(levels.max(initial=0)) for levels in self.sampling.values()))

    def index(self) -> PointIndex:
        """Grid index over every item, built on first use."""
        with self._lock:
            if self._index is None:
                self._index = PointIndex(self.positions)
            return self._index

    def levelled(self, sampling: str) -> LevelledIndex:
        """Per-level grid indexes of `sampling`, built on first use."""
        with self._lock:
            if sampling not in self._levelled:
                self._levelled[sampling] = LevelledIndex(self.positions, self.sampling_levels(sampling))
            return self._levelled[sampling]

    def prepare_deep_tiles_in_background(self) -> None:
        """Start the deep tiles' set-up, which grows with the number of items (seconds at millions), in
        a thread, so no deep-tile request pays it; `deep_tiles_ready` is set when it is done."""
        threading.Thread(target=self._prepare_deep_tiles, name=f"prepare-deep-tiles-{self.metric}",
                         daemon=True).start()

    def _prepare_deep_tiles(self) -> None:
        try:
            self.tiles.prepare_deep_tiles()
        except Exception:  # the first deep tile redoes the work and reports the error to its client
            log.exception("preparing deep tiles of %s failed", self.root)
        finally:
            self.deep_tiles_ready.set()


def to_unit_square(raw: np.ndarray, normalisation: dict) -> np.ndarray:
    """c·raw + shift clipped to [0, 1]² (float64): the build's normalisation of projection outputs."""
    raw = np.asarray(raw, dtype=np.float64)
    return np.clip(raw * normalisation["scale"] + np.asarray(normalisation["shift"]), 0.0, 1.0)


def open_map(map_dir: str | os.PathLike, verify: bool = True, memory_budget: int = IN_MEMORY_BYTES) -> BuiltMap:
    """Open a built map folder (DATASET/maps/<metric>/); MapError when it is missing, corrupted or does
    not match itself. verify=True checks every file's SHA-256 against the manifest (~0.1 s per 40 MB).
    Arrays are read into memory up to `memory_budget` bytes in all, the rest memory-mapped."""
    root = Path(map_dir)
    manifest = Manifest.read(layout.manifest_path(root), metric=root.name)
    verify_files(root, manifest, verify)
    check_shapes(root, manifest)
    return BuiltMap(root, manifest, memory_budget)


def open_built(dataset_dir: str | os.PathLike, metric: str, verify: bool = True) -> BuiltMap:
    """The built map of `metric` in a dataset folder."""
    return open_map(layout.map_dir(dataset_dir, metric), verify)


def verify_files(root: Path, manifest: Manifest, checksums: bool = True) -> None:
    """MapError unless every file the manifest lists is there with its size (and checksum)."""
    for rel, info in manifest.files.items():
        file = root / rel
        if not file.is_file():
            raise MapError(f"{file}: listed in the manifest but missing")
        if file.stat().st_size != info["bytes"]:
            raise MapError(f"{file}: {file.stat().st_size} bytes, the manifest says {info['bytes']}")
        if checksums and sha256_file(file) != info["sha256"]:
            raise MapError(f"{file}: checksum differs from the manifest (corrupted or replaced)")


def check_shapes(root: Path, manifest: Manifest) -> None:
    """MapError unless every array has the shape and dtype the manifest implies."""
    n, T = manifest.n_items, manifest.tile_size
    expected = {layout.POSITIONS: ((n, 2), np.float32), layout.VALUES: ((n,), np.float64)}
    for name in layout.SAMPLINGS:
        expected[layout.sampling_file(name)] = ((n,), np.uint8)
    for z in manifest.stored_levels:
        expected[layout.level_file(z)] = (((T << z), (T << z)), np.float32)
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
    recorded = [int(lv["z"]) for lv in manifest.data["levels"]]
    if recorded != list(range(manifest.max_level + 1)):
        raise MapError(f"{layout.manifest_path(root)}: levels {recorded} do not cover 0..{manifest.max_level}")
