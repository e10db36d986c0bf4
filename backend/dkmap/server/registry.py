"""Process-wide stores shared by all requests: datasets, built maps, and the load-once cache.

Each dataset folder is served as a `Snapshot` of one version of it (dkmap.server.snapshot): its
opened dataset and every store loaded from it, dropped whole when the folder changes on disk.
A request resolves each dataset and map once (pinned for the request), so all it answers comes
from one version; the app retries a request once when the disk changed under it, then answers
503 (dkmap.server.app). At most MAX_OPEN_MAPS built maps are kept open (least recently used
go); their arrays are read into memory up to a budget per map or memory-mapped and checked
before each request (dkmap.maps.arrays). A folder or map that cannot be opened is `broken`, with
the reason, and the others are served as usual. Dataset names are only ever looked up in the dict
of folders found under DATA_DIR, never joined into a path from the URL. Lookups raise
`dkmap.errors.NotFound` or `Unavailable` (never an HTTP abort); `dkmap.server.errors` maps them to
responses. The domain operations (nearest images, keywords, SPEC) are in `dkmap.server.ops`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from flask import current_app, g, has_app_context

from dkmap.data.store import SHARDED, Dataset, list_datasets, open_dataset
from dkmap.errors import NotFound, Unavailable
from dkmap.lru import LRUCache
from dkmap.maps import Manifest, MapError, layout
from dkmap.maps.arrays import IN_MEMORY_BYTES, MapArrays, file_identity
from dkmap.maps.built import BuiltMap, check_shapes, open_map, verify_files
from dkmap.server.load_once import LoadOnce
from dkmap.server.snapshot import DatasetChanged, Snapshot, version_files, version_of

log = logging.getLogger(__name__)

RESCAN_INTERVAL_S = 2.0
# A broken map is tried again after this long (a file put back in place is then served).
BROKEN_RETRY_S = 2.0
# Built maps kept open at once (each holds its arrays, up to dkmap.maps.arrays.IN_MEMORY_BYTES in
# memory, its spatial indexes and deep-tile cache); the least recently used is closed first.
MAX_OPEN_MAPS = 8
# Default prompts whose keyphrases are extracted per lasso (a seeded sample above this; similarities
# still cover all): top-15 frequencies settle well before 250 (extraction: ~0.2 ms per prompt).
KEYWORD_MAX_DOCS = 250
# Selected items whose positions, ids and keyword similarities a selection sends (a uniform sample
# above this): enough to draw the matches of a keyword bar densely, a few hundred kB of JSON.
SELECTION_SAMPLE = 20_000
# Selections computed at once; more wait, so concurrent lassos over millions cannot exhaust memory.
SELECTION_SLOTS = 2
EXTENSION_KEY = "dkmap_registry"
PINS = "dkmap_pins"   # flask.g attribute: the snapshots and maps a request resolved


class Registry:
    """Snapshots of every dataset folder under `data_dir`, their open maps, and process-wide stores."""

    def __init__(self, data_dir: str | Path, tile_cache_bytes: int = 256 << 20,
                 keyword_max_docs: int = KEYWORD_MAX_DOCS, selection_sample: int = SELECTION_SAMPLE,
                 max_open_maps: int = MAX_OPEN_MAPS, map_memory_bytes: int = IN_MEMORY_BYTES) -> None:
        if keyword_max_docs < 1:
            raise ValueError(f"keyword_max_docs must be >= 1, got {keyword_max_docs}")
        if selection_sample < 1:
            raise ValueError(f"selection_sample must be >= 1, got {selection_sample}")
        if max_open_maps < 1:
            raise ValueError(f"max_open_maps must be >= 1, got {max_open_maps}")
        self.data_dir = Path(data_dir).resolve()
        self.map_memory_bytes = int(map_memory_bytes)
        self.keyword_max_docs = int(keyword_max_docs)
        self.selection_sample = int(selection_sample)
        self.tiles = LRUCache(tile_cache_bytes)  # encoded tiles, sized in bytes
        self.maps = LRUCache(max_open_maps, size_of=lambda _: 1)  # open maps (or why one is broken)
        self._folders: dict[str, Path] = {}
        self._scanned_at = 0.0
        self._snapshots = LoadOnce()   # dataset name -> its current Snapshot
        self._loaded = LoadOnce()
        self._lock = threading.Lock()
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
        for gone in set(self._snapshots.keys()) - set(folders):
            self._snapshots.forget(gone)

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
        """The value stored under `key`, loaded exactly once even under concurrency. A key whose second
        element names a served dataset, `(kind, dataset, ...)`, belongs to that dataset's current
        version: it is loaded again after the folder changes (so every per-dataset store follows
        re-ingest); other keys are kept for the life of the process."""
        if len(key) > 1 and isinstance(key[1], str) and key[1] in self._folders:
            return self._served(key[1]).once(key, load)

        def load_logged():
            started = time.perf_counter()
            value = load()
            log.info("loaded %s in %.2f s", key, time.perf_counter() - started)
            return value

        return self._loaded.get(key, load_logged)

    # ---- datasets --------------------------------------------------------------------------
    def snapshot(self, name: str) -> Snapshot:
        """The current version of dataset folder `name` (opened, or broken with the reason): the one
        this request already resolved, else the cached one if the folder did not change since."""
        pins = _pins()
        pinned = pins.get(("dataset", name))
        if pinned is not None:
            return pinned
        folder = self._folder(name)
        snap = self._snapshots.get(name, lambda: self._open_snapshot(name, folder),
                                   fresh=lambda snap: snap.folder == folder and snap.is_current())
        pins[("dataset", name)] = snap
        return snap

    def _open_snapshot(self, name: str, folder: Path) -> Snapshot:
        for _ in range(3):   # a folder replaced while it was opened is opened again
            files = version_files(folder)
            version = version_of(files)
            started = time.perf_counter()
            try:
                ds = open_dataset(folder)
                for space in ds.spaces:   # memory-mapped now, so every file is of this version
                    ds.embedding(space)
            except Exception as exc:   # any damage: the folder is listed as broken, the rest served
                ds, broken = None, _reason(exc, folder)
            else:
                broken = None
            if version_of(files) == version and version_files(folder) == files:
                if broken:
                    log.error("dataset folder %s cannot be served: %s", folder, broken)
                else:
                    log.info("opened dataset %s (%d items) in %.2f s", name, ds.n, time.perf_counter() - started)
                return Snapshot(name, folder, files, version, ds, broken)
        raise DatasetChanged(f"dataset '{name}' kept changing on disk while it was opened")

    def _served(self, name: str) -> Snapshot:
        snap = self.snapshot(name)
        if snap.broken is not None:
            raise Unavailable(f"dataset '{name}' cannot be served: {snap.broken}")
        return snap

    def dataset(self, name: str) -> Dataset:
        """The opened dataset `name` (NotFound if unknown, Unavailable naming why if it cannot be opened)."""
        return self._served(name).dataset

    def broken_datasets(self) -> dict[str, str]:
        """Dataset folders that cannot be served, with the reason (after a rescan)."""
        out = {}
        for name in self.dataset_names():
            try:
                snap = self.snapshot(name)
            except (NotFound, DatasetChanged):
                continue
            if snap.broken is not None:
                out[name] = snap.broken
        return out

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
        """Item ids as a numpy array of str, extracted once per version."""
        ds = self.dataset(dataset)
        return self.once(("ids", dataset), lambda: ds.ids.astype(str))

    def prompts(self, dataset: str) -> np.ndarray:
        """Prompts as a numpy object array, extracted once per version (so rows gather cheaply)."""
        ds = self.dataset(dataset)
        return self.once(("prompts", dataset), lambda: ds.items["prompt"].to_numpy(dtype=object))

    # ---- maps --------------------------------------------------------------------------------
    def map(self, dataset: str, metric: str) -> BuiltMap:
        """The built map of `metric` (NotFound if the metric is unknown or not built, Unavailable naming
        why if it cannot be served); reopened after a rebuild. Opening verifies every file's checksum."""
        pins = _pins()
        pinned = pins.get(("map", dataset, metric))
        if pinned is not None:
            return pinned
        snap, folder, stamp = self._map_folder(dataset, metric)
        key = (dataset, snap.version, metric, stamp)
        entry = self.maps.get_or_compute(key, lambda: self._open_map(snap, folder, metric))
        if isinstance(entry, _BrokenMap) and time.monotonic() - entry.at > BROKEN_RETRY_S:
            self.maps.discard(key, entry)
            entry = self.maps.get_or_compute(key, lambda: self._open_map(snap, folder, metric))
        if isinstance(entry, BuiltMap):
            try:
                entry.check_files()
            except MapError as exc:   # written in place: reopen (verifying every checksum) once
                log.warning("map %s/%s: %s; reopening it", dataset, metric, exc)
                self.maps.discard(key, entry)
                entry = self.maps.get_or_compute(key, lambda: self._open_map(snap, folder, metric))
        if isinstance(entry, _BrokenMap):
            snap.ensure_current()
            raise Unavailable(f"the map of metric '{metric}' in dataset '{dataset}' cannot be served: "
                              f"{entry.reason} (rebuild it with dkmap build)")
        pins[("map", dataset, metric)] = entry
        return entry

    def _map_folder(self, dataset: str, metric: str) -> tuple[Snapshot, Path, tuple]:
        snap = self._served(dataset)
        self.require_metric(snap.dataset, dataset, metric)
        folder = layout.map_dir(snap.folder, metric)
        try:
            stamp = file_identity(layout.manifest_path(folder))
        except OSError:
            raise NotFound(f"the map of metric '{metric}' in dataset '{dataset}' is not built "
                           f"(run: dkmap build DATASET_DIR --metric {metric})") from None
        return snap, folder, stamp

    def _open_map(self, snap: Snapshot, folder: Path, metric: str) -> BuiltMap | _BrokenMap:
        started = time.perf_counter()
        try:
            built = open_map(folder, memory_budget=self.map_memory_bytes)
            _check_belongs(built.manifest, snap.dataset)
        except (MapError, OSError, ValueError) as exc:
            snap.ensure_current()   # a map folder replaced by re-ingest is not broken: retry the request
            log.error("map %s/%s cannot be served: %s", snap.name, metric, exc)
            return _BrokenMap(_reason(exc, snap.folder))
        snap.ensure_current()
        built.prepare_deep_tiles_in_background()
        log.info("opened map %s/%s in %.2f s", snap.name, metric, time.perf_counter() - started)
        return built

    def positions(self, dataset: str, metric: str) -> np.ndarray:
        """The item positions on the built map of `metric`, without opening the whole map (an item
        request reads one row of each built map); Unavailable naming why when they cannot be read."""
        pinned = _pins().get(("map", dataset, metric))
        if pinned is not None:
            return pinned.positions
        snap, folder, stamp = self._map_folder(dataset, metric)
        open_map_ = self.maps.get((dataset, snap.version, metric, stamp))
        if isinstance(open_map_, BuiltMap):
            open_map_.check_files()
            return open_map_.positions
        key = ("positions", dataset, metric)
        load = lambda: _Positions(stamp, folder, snap.dataset, self.map_memory_bytes)  # noqa: E731
        loaded = snap.once(key, load)
        if loaded.stamp != stamp or (loaded.problem is None and not loaded.unchanged()):
            snap.forget(key, loaded)
            loaded = snap.once(key, load)
        if loaded.problem is not None:
            raise Unavailable(f"the map of metric '{metric}' in dataset '{dataset}' cannot be served: "
                              f"{loaded.problem} (rebuild it with dkmap build)")
        return loaded.positions

    def built_metrics(self, dataset: str) -> list[str]:
        """Metrics of `dataset` that have a built map folder (a manifest; it may still be broken)."""
        snap = self._served(dataset)
        return [m for m in snap.dataset.metrics if layout.is_built(snap.folder, m)]

    def map_problem(self, dataset: str, metric: str) -> str | None:
        """Why the built map of `metric` cannot be served (a quick check of its files: sizes, shapes,
        its dataset version), None when it can; cached per build."""
        snap, folder, stamp = self._map_folder(dataset, metric)
        entry = self.maps.get((dataset, snap.version, metric, stamp))
        if isinstance(entry, BuiltMap):
            return None
        if isinstance(entry, _BrokenMap):
            return entry.reason
        return snap.once(("map-problem", dataset, metric, stamp), lambda: _quick_map_problem(folder, snap.dataset)) or None

    # ---- requests ----------------------------------------------------------------------------
    def request_saw_change(self) -> bool:
        """Whether a dataset or map this request resolved changed on disk since (its answer may mix)."""
        for key, value in _pins().items():
            if key[0] == "dataset" and not value.is_current():
                return True
            if key[0] == "map":
                try:
                    value.check_files()
                    if file_identity(layout.manifest_path(value.root))[2] != value.stamp:
                        return True
                except (MapError, OSError):
                    return True
        return False

    @staticmethod
    def forget_request() -> None:
        """Unpin what this request resolved (before it is retried)."""
        if has_app_context():
            g.pop(PINS, None)


class _BrokenMap:
    """Why a map could not be opened, and when that was found."""

    def __init__(self, reason: str) -> None:
        self.reason, self.at = reason, time.monotonic()


class _Positions:
    """The positions file of one build of a map, read on its own (or why it cannot be)."""

    def __init__(self, stamp: tuple, folder: Path, ds: Dataset, memory_budget: int) -> None:
        self.stamp, self.positions, self.problem = stamp, None, None
        self.arrays = MapArrays(folder, memory_budget)
        try:
            positions = self.arrays.load(layout.POSITIONS)
            if positions.shape != (ds.n, 2) or positions.dtype != np.float32:
                raise MapError(f"{folder / layout.POSITIONS}: shape {positions.shape} {positions.dtype}, "
                               f"the dataset has {ds.n} items")
            self.positions = positions
        except MapError as exc:
            self.problem = _reason(exc, folder.parent.parent)

    def unchanged(self) -> bool:
        try:
            self.arrays.check()
        except MapError:
            return False
        return True


def _check_belongs(manifest: Manifest, ds: Dataset) -> None:
    """MapError unless the map was built from this version of the dataset (its size and inputs)."""
    if manifest.n_items != ds.n:
        raise MapError(f"built from another version of the dataset ({manifest.n_items} items; it has {ds.n})")
    if ds.meta.get("layout") == SHARDED:
        return
    recorded = ds.meta.get("checksums") or {}
    inputs = manifest.data.get("inputs") or {}
    changed = [f for f, sha in inputs.items() if recorded.get(f) is not None and recorded[f] != sha]
    if changed:
        raise MapError(f"built from another version of the dataset ({', '.join(changed)} changed since)")


def _quick_map_problem(folder: Path, ds: Dataset) -> str:
    """Why the map in `folder` cannot be served, from its manifest, file sizes and array headers
    (no checksums: those are verified when it is opened); '' when nothing is wrong."""
    try:
        manifest = Manifest.read(layout.manifest_path(folder), metric=folder.name)
        verify_files(folder, manifest, checksums=False)
        check_shapes(folder, manifest)
        _check_belongs(manifest, ds)
    except (MapError, OSError) as exc:
        return _reason(exc, folder.parent.parent)
    return ""


def _reason(exc: Exception, folder: Path) -> str:
    """One line saying why something cannot be served, files named inside the dataset `folder`."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in {str(folder), str(Path(folder).resolve())}:
        text = text.replace(prefix + "/", "").replace(prefix, "the dataset folder")
    return text if len(text) <= 300 else text[:297] + "..."


def _pins() -> dict:
    """What the current request resolved (an empty, unkept dict outside a request)."""
    if not has_app_context():
        return {}
    pins = g.get(PINS)
    if pins is None:
        pins = {}
        setattr(g, PINS, pins)
    return pins


def registry() -> Registry:
    """The registry of the running app."""
    return current_app.extensions[EXTENSION_KEY]
