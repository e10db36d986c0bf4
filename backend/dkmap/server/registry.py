"""Process-wide stores shared by all requests: datasets, built maps, and the load-once cache.

Everything is loaded on first use and kept; built arrays are memory-mapped, so threads (and the
OS page cache) share them. Dataset names are only ever looked up in the dict of folders found
under DATA_DIR, never joined into a path from the URL. Lookups raise `dkmap.errors.NotFound` or
`Unavailable` (never an HTTP abort); `dkmap.server.errors` maps them to responses. The domain
operations (nearest images, keywords, SPEC) are in `dkmap.server.ops`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from flask import current_app

from dkmap.data.store import Dataset, DatasetError, list_datasets, open_dataset
from dkmap.errors import NotFound, Unavailable
from dkmap.lru import LRUCache
from dkmap.maps import MapError, layout
from dkmap.maps.built import BuiltMap, open_map

log = logging.getLogger(__name__)

RESCAN_INTERVAL_S = 2.0
# Default prompts whose keyphrases are extracted per lasso (a seeded sample above this; similarities
# still cover all): top-15 frequencies settle well before 250 (extraction: ~0.2 ms per prompt).
KEYWORD_MAX_DOCS = 250
# Selected items whose positions, ids and keyword similarities a selection sends (a uniform sample
# above this): enough to draw the matches of a keyword bar densely, a few hundred kB of JSON.
SELECTION_SAMPLE = 20_000
# Selections computed at once; more wait, so concurrent lassos over millions cannot exhaust memory.
SELECTION_SLOTS = 2
EXTENSION_KEY = "dkmap_registry"


class Registry:
    """Lazily opened, shared stores for every dataset folder under `data_dir`."""

    def __init__(self, data_dir: str | Path, tile_cache_bytes: int = 256 << 20,
                 keyword_max_docs: int = KEYWORD_MAX_DOCS, selection_sample: int = SELECTION_SAMPLE) -> None:
        if keyword_max_docs < 1:
            raise ValueError(f"keyword_max_docs must be >= 1, got {keyword_max_docs}")
        if selection_sample < 1:
            raise ValueError(f"selection_sample must be >= 1, got {selection_sample}")
        self.data_dir = Path(data_dir).resolve()
        self.keyword_max_docs = int(keyword_max_docs)
        self.selection_sample = int(selection_sample)
        self.tiles = LRUCache(tile_cache_bytes)  # encoded tiles, sized in bytes
        self._folders: dict[str, Path] = {}
        self._scanned_at = 0.0
        self._loaded: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.spec_lock = threading.Lock()
        self.selection_slots = threading.BoundedSemaphore(SELECTION_SLOTS)
        self.rescan()

    # ---- discovery -------------------------------------------------------------------------
    def rescan(self) -> None:
        """Refresh the dict of dataset folders (name -> folder) found under `data_dir`."""
        folders = {p.name: p for p in list_datasets(self.data_dir)}
        with self._lock:
            self._folders = folders
            self._scanned_at = time.monotonic()

    def dataset_names(self) -> list[str]:
        """Names of the discovered dataset folders, sorted."""
        return sorted(self._folders)

    def _folder(self, name: str) -> Path:
        folder = self._folders.get(name)
        if folder is None and time.monotonic() - self._scanned_at > RESCAN_INTERVAL_S:
            self.rescan()
            folder = self._folders.get(name)
        if folder is None:
            known = ", ".join(self.dataset_names()) or "none"
            raise NotFound(f"unknown dataset '{name}' (available: {known})")
        return folder

    # ---- load-once helper ------------------------------------------------------------------
    def once(self, key: tuple, load: Callable[[], Any]) -> Any:
        """Return the value stored under `key`, loading it exactly once even under concurrency."""
        value = self._loaded.get(key)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            value = self._loaded.get(key)
            if value is None:
                started = time.perf_counter()
                value = load()
                self._loaded[key] = value
                log.info("loaded %s in %.2f s", key, time.perf_counter() - started)
        return value

    # ---- datasets --------------------------------------------------------------------------
    def dataset(self, name: str) -> Dataset:
        """The opened dataset `name` (NotFound if unknown, Unavailable if it cannot be opened)."""
        folder = self._folder(name)
        try:
            return self.once(("dataset", name), lambda: open_dataset(folder))
        except DatasetError as exc:
            log.error("dataset folder %s cannot be opened: %s", folder, exc)
            raise Unavailable(f"dataset '{name}' could not be opened (see the server log)") from exc

    def require_metric(self, ds: Dataset, dataset: str, metric: str) -> dict:
        """The metric's info dict (NotFound naming the metric and the known ones if unknown)."""
        info = ds.metrics.get(metric)
        if info is None:
            known = ", ".join(ds.metrics) or "none"
            raise NotFound(f"unknown metric '{metric}' for dataset '{dataset}' (available: {known})")
        return info

    def require_generator(self, ds: Dataset, dataset: str, generator: str) -> str:
        """`generator` if the dataset has it (NotFound naming the known ones otherwise)."""
        if generator not in ds.generators:
            raise NotFound(f"unknown model '{generator}' for dataset '{dataset}' "
                           f"(available: {', '.join(ds.generators)})")
        return generator

    def row_of(self, ds: Dataset, dataset: str, item_id: str) -> int:
        """Row of `item_id` (NotFound naming the id if unknown)."""
        try:
            return ds.row_of(item_id)
        except KeyError:
            raise NotFound(f"unknown item id '{item_id}' in dataset '{dataset}'") from None

    def ids(self, dataset: str) -> np.ndarray:
        """Item ids as a numpy array of str, extracted once."""
        ds = self.dataset(dataset)
        return self.once(("ids", dataset), lambda: ds.ids.astype(str))

    def map(self, dataset: str, metric: str) -> BuiltMap:
        """The built map of `metric` (NotFound if the metric is unknown or not built, Unavailable if it
        cannot be opened); reloaded after a rebuild. Opening verifies every file's checksum."""
        folder = self._map_folder(dataset, metric)
        return self._current(("map", dataset, metric), folder, lambda: self._open_map(folder, dataset, metric))

    def positions(self, dataset: str, metric: str) -> np.ndarray:
        """The item positions on the built map of `metric` (memory-mapped), without opening the whole
        map: an item request reads one row of each built map."""
        loaded = self._loaded.get(("map", dataset, metric))
        folder = self._map_folder(dataset, metric)
        if loaded is not None and loaded.stamp == _stamp(folder):
            return loaded.positions
        return self._current(("positions", dataset, metric), folder,
                             lambda: _Stamped(_stamp(folder), np.load(folder / layout.POSITIONS, mmap_mode="r"))).value

    def _map_folder(self, dataset: str, metric: str) -> Path:
        ds = self.dataset(dataset)
        self.require_metric(ds, dataset, metric)
        folder = layout.map_dir(ds.root, metric)
        if not layout.manifest_path(folder).is_file():
            raise NotFound(f"the map of metric '{metric}' in dataset '{dataset}' is not built "
                           f"(run: dkmap build DATASET_DIR --metric {metric})")
        return folder

    def _current(self, key: tuple, folder: Path, load: Callable[[], Any]) -> Any:
        """The value under `key`, loaded again when the map folder's manifest changed since (a rebuild)."""
        value = self.once(key, load)
        stamp = _stamp(folder)
        if value.stamp != stamp:
            log.info("%s changed on disk: reloading", folder)
            with self._lock:
                if self._loaded.get(key) is value:
                    del self._loaded[key]
            value = self.once(key, load)
        return value

    @staticmethod
    def _open_map(folder: Path, dataset: str, metric: str) -> BuiltMap:
        try:
            built = open_map(folder)
        except MapError as exc:
            log.error("map %s/%s cannot be opened: %s", dataset, metric, exc)
            raise Unavailable(f"the map of metric '{metric}' in dataset '{dataset}' could not be "
                              f"opened (see the server log; rebuild it with dkmap build)") from exc
        built.prepare_deep_tiles_in_background()
        return built

    def prompts(self, dataset: str) -> np.ndarray:
        """Prompts as a numpy object array, extracted once (so rows can be gathered cheaply)."""
        ds = self.dataset(dataset)
        return self.once(("prompts", dataset), lambda: ds.items["prompt"].to_numpy(dtype=object))

    def built_metrics(self, dataset: str) -> list[str]:
        """Metrics of `dataset` that have a built map folder."""
        ds = self.dataset(dataset)
        return [m for m in ds.metrics if layout.is_built(ds.root, m)]


class _Stamped:
    """A value loaded from a map folder, with the manifest stamp it was loaded at."""

    def __init__(self, stamp: int, value: Any) -> None:
        self.stamp, self.value = stamp, value


def _stamp(folder: Path) -> int:
    """The manifest's modification time: a rebuild replaces the folder and changes it."""
    try:
        return layout.manifest_path(folder).stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def registry() -> Registry:
    """The registry of the running app."""
    return current_app.extensions[EXTENSION_KEY]
