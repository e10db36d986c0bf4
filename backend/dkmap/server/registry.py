"""Process-wide stores shared by all requests: datasets, built maps, Faiss indexes, KeyBERT, tiles.

Everything is loaded on first use and kept; built arrays are memory-mapped, so threads (and the
OS page cache) share them. Dataset names are only ever looked up in the dict of folders found
under DATA_DIR, never joined into a path from the URL.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from flask import abort, current_app

from dkmap.data.store import Dataset, DatasetError, list_datasets, open_dataset
from dkmap.server.served_map import ServedMap
from dkmap.lru import LRUCache

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
        self._spec_lock = threading.Lock()
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
            abort(404, description=f"unknown dataset '{name}' (available: {known})")
        return folder

    # ---- load-once helper ------------------------------------------------------------------
    def _once(self, key: tuple, load: Callable[[], Any]) -> Any:
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
        """The opened dataset `name` (404 if unknown)."""
        folder = self._folder(name)
        try:
            return self._once(("dataset", name), lambda: open_dataset(folder))
        except DatasetError as exc:
            log.error("dataset folder %s cannot be opened: %s", folder, exc)
            abort(500, description=f"dataset '{name}' could not be opened (see the server log)")

    def require_metric(self, ds: Dataset, dataset: str, metric: str) -> dict:
        """The metric's info dict (404 naming the metric and the known ones if unknown)."""
        info = ds.metrics.get(metric)
        if info is None:
            known = ", ".join(ds.metrics) or "none"
            abort(404, description=f"unknown metric '{metric}' for dataset '{dataset}' (available: {known})")
        return info

    def require_generator(self, ds: Dataset, dataset: str, generator: str) -> str:
        """`generator` if the dataset has it (404 naming the known ones otherwise)."""
        if generator not in ds.generators:
            abort(404, description=f"unknown model '{generator}' for dataset '{dataset}' "
                                   f"(available: {', '.join(ds.generators)})")
        return generator

    def row_of(self, ds: Dataset, dataset: str, item_id: str) -> int:
        """Row of `item_id` (404 naming the id if unknown)."""
        try:
            return ds.row_of(item_id)
        except KeyError:
            abort(404, description=f"unknown item id '{item_id}' in dataset '{dataset}'")

    def metric_values(self, dataset: str, metric: str) -> np.ndarray:
        """The metric column as float64, extracted once (the table copy is not redone per request)."""
        ds = self.dataset(dataset)
        self.require_metric(ds, dataset, metric)
        return self._once(("metric", dataset, metric), lambda: ds.metric(metric))

    def ids(self, dataset: str) -> np.ndarray:
        """Item ids as a numpy array of str, extracted once."""
        ds = self.dataset(dataset)
        return self._once(("ids", dataset), lambda: ds.ids.astype(str))

    def map(self, dataset: str, metric: str) -> ServedMap:
        """The built map of `metric` (404 if the metric is unknown or not built); reloaded after a rebuild."""
        ds = self.dataset(dataset)
        self.require_metric(ds, dataset, metric)
        manifest = ds.root / "maps" / metric / "manifest.json"
        try:
            stamp = manifest.stat().st_mtime_ns
        except FileNotFoundError:
            abort(404, description=f"the map of metric '{metric}' in dataset '{dataset}' is not built "
                                   f"(run: dkmap build DATASET_DIR --metric {metric})")
        key = ("map", dataset, metric)
        served = self._open_map(key, ds.root, dataset, metric)
        if served.stamp != stamp:
            log.info("map %s/%s changed on disk: reloading", dataset, metric)
            with self._lock:
                if self._loaded.get(key) is served:
                    del self._loaded[key]
            served = self._open_map(key, ds.root, dataset, metric)
        return served

    def _open_map(self, key: tuple, root: Path, dataset: str, metric: str) -> ServedMap:
        from dkmap.contour.store import MapError

        try:
            return self._once(key, lambda: ServedMap(root, metric))
        except MapError as exc:
            log.error("map %s/%s cannot be opened: %s", dataset, metric, exc)
            abort(500, description=f"the map of metric '{metric}' in dataset '{dataset}' could not be "
                                   f"opened (see the server log; rebuild it with dkmap build)")

    def spec(self, dataset: str, x: str, y: str, k: int):
        """SPEC of spaces x and y (dkmap.compare.spec), computed once per process and kept."""
        from dkmap.compare.spec import spec

        ds = self.dataset(dataset)
        # One computation at a time: SPEC streams every item and is the heaviest request.
        return self._once(("spec", dataset, x, y, k),
                          lambda: _serialised(self._spec_lock, lambda: spec(ds.embedding(x), ds.embedding(y), k=k)))

    def prompts(self, dataset: str) -> np.ndarray:
        """Prompts as a numpy object array, extracted once (so rows can be gathered cheaply)."""
        ds = self.dataset(dataset)
        return self._once(("prompts", dataset), lambda: ds.items["prompt"].to_numpy(dtype=object))

    def faiss_index(self, dataset: str, generator: str):
        """The Faiss index over `generator`'s image embeddings: the build's file, else built in memory."""
        from dkmap import similarity

        ds = self.dataset(dataset)
        self.require_generator(ds, dataset, generator)
        space = f"image_{generator}"

        def load():
            path = ds.root / "index" / f"{space}.faiss"
            if path.is_file():
                return similarity.load(path)
            log.warning("no index file %s: building an in-memory index", path)
            return similarity.build_index(ds.embedding(space))

        return self._once(("faiss", dataset, generator), load)

    def nearest(self, dataset: str, generator: str, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k images nearest to `row`'s image by `generator`, itself excluded."""
        from dkmap import similarity

        ds = self.dataset(dataset)
        index = self.faiss_index(dataset, generator)
        query = np.asarray(ds.embedding(f"image_{generator}")[row:row + 1], dtype=np.float32)
        scores, ids = similarity.search(index, query, k + 1)
        keep = (ids[0] >= 0) & (ids[0] != row)
        return ids[0][keep][:k].astype(np.int64), scores[0][keep][:k]

    def keyword_extractor(self):
        """The keyword extractor with the local MiniLM model, loaded once per process."""
        from dkmap.keywords import KeywordExtractor

        return self._once(("keywords",), KeywordExtractor)

    def keyword_view(self, dataset: str, rows: np.ndarray, population: int) -> dict:
        """Keywords of `rows` (a uniform sample of a selection of `population` items when fewer) with a
        similarity histogram per keyword and the bar of every row."""
        from dkmap.data.gather import gather_rows

        ds = self.dataset(dataset)
        extractor = self.keyword_extractor()
        prompts = self.prompts(dataset)[rows]
        # Lassos read scattered rows of a store that may exceed memory (see dkmap.data.gather).
        store = self._once(("minilm", dataset), lambda: _prepared(ds.embedding("minilm")))
        emb = gather_rows(store, rows)
        return extractor.extract(list(prompts), emb, max_docs=self.keyword_max_docs, population=population).to_dict()

    def built_metrics(self, dataset: str) -> list[str]:
        """Metrics of `dataset` that have a built map folder."""
        ds = self.dataset(dataset)
        return [m for m in ds.metrics if (ds.root / "maps" / m / "manifest.json").is_file()]


def _prepared(store):
    from dkmap.data.gather import prepare_for_scattered_reads

    log.info("MiniLM store advised for lasso reads: %s", prepare_for_scattered_reads(store))
    return store


def _serialised(lock: threading.Lock, run: Callable[[], Any]) -> Any:
    with lock:
        return run()


def registry() -> Registry:
    """The registry of the running app."""
    return current_app.extensions[EXTENSION_KEY]
