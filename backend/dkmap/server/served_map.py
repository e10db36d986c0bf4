"""One built map as the server uses it: the map store plus lazily built spatial indexes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from dkmap.server.point_index import LevelledIndex, PointIndex

log = logging.getLogger(__name__)

SAMPLINGS = ("bluenoise", "random", "all")


class ServedMap:
    """Wraps `dkmap.contour.store.open_map`'s result; indexes are built on first use and shared."""

    def __init__(self, dataset_dir: Path, metric: str) -> None:
        from dkmap.contour.store import open_map

        self.store = open_map(dataset_dir, metric)
        self.manifest: dict = self.store.manifest
        self.positions: np.ndarray = self.store.positions
        self.stamp = (dataset_dir / "maps" / metric / "manifest.json").stat().st_mtime_ns
        self._lock = threading.Lock()
        self._index: PointIndex | None = None
        self._levelled: dict[str, LevelledIndex] = {}
        # Deep tiles' set-up grows with the number of items (seconds at millions): start it now, in the
        # background, so no deep-tile request pays it; requests arriving meanwhile wait for it once.
        self.deep_tiles_ready = threading.Event()
        threading.Thread(target=self._prepare_deep_tiles, name=f"prepare-deep-tiles-{metric}",
                         daemon=True).start()

    def _prepare_deep_tiles(self) -> None:
        try:
            self.store.prepare_deep_tiles()
        except Exception:  # the first deep tile redoes the work and reports the error to its client
            log.exception("preparing deep tiles of %s failed", self.store.root)
        finally:
            self.deep_tiles_ready.set()

    @property
    def max_level(self) -> int:
        return int(self.manifest["max_level"])

    @property
    def tile_size(self) -> int:
        return int(self.manifest["tile_size"])

    @property
    def precomputed_levels(self) -> int:
        """How many levels (0, 1, ...) are stored as whole grids; deeper ones are computed on request."""
        return len(self.manifest.get("precomputed_levels", []))

    def sampling_levels(self, sampling: str) -> np.ndarray:
        """Per-item first zoom level of `sampling` ('bluenoise' or 'random')."""
        return self.store.sampling[sampling]

    def sampling_max_level(self) -> int:
        """The deepest level any item first appears at, over both samplings."""
        return int(max(int(self.sampling_levels(s).max(initial=0)) for s in SAMPLINGS[:2]))

    def tile(self, z: int, x: int, y: int) -> np.ndarray:
        """The T×T float32 values of tile (z, x, y), NaN where masked."""
        return self.store.tile(z, x, y)

    def index(self) -> PointIndex:
        """Grid index over every item."""
        with self._lock:
            if self._index is None:
                self._index = PointIndex(self.positions)
            return self._index

    def levelled(self, sampling: str) -> LevelledIndex:
        """Per-level grid indexes for `sampling`."""
        with self._lock:
            if sampling not in self._levelled:
                self._levelled[sampling] = LevelledIndex(self.positions, self.sampling_levels(sampling))
            return self._levelled[sampling]
