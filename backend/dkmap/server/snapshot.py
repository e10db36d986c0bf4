"""One version of a served dataset folder, and everything the server loaded from that version.

Ingest replaces a dataset folder as a whole (a renamed temporary folder), so a new version has a
new dataset.yaml; a file written in place changes its size or time. A version is the identity
(inode, size, mtime) of dataset.yaml, the items table and every embedding file. A `Snapshot`
holds the opened `Dataset` of one version and the stores loaded from it (ids, prompts, Faiss and
keyword stores, SPEC results, map positions): when the version on disk differs, the registry
drops the snapshot whole and opens the new one, so answers never mix two versions. A load that
finds the version changed while it read raises `DatasetChanged` (the request is retried).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from dkmap.data.store import SHARDED, Dataset, embedding_shard_path, items_shard_path, read_meta
from dkmap.maps.arrays import file_identity
from dkmap.server.load_once import LoadOnce

log = logging.getLogger(__name__)


class DatasetChanged(RuntimeError):
    """The files of a dataset changed while a request read them; retrying reads the new version."""


def version_files(folder: Path) -> list[Path]:
    """The files whose identity is the dataset's version: dataset.yaml, the items and embeddings."""
    meta_path = folder / "dataset.yaml"
    try:
        meta = read_meta(folder)
    except Exception:   # a broken dataset.yaml: its own identity is the version
        return [meta_path]
    spaces = [str(s) for s in meta.get("spaces") or []]
    if meta.get("layout") == SHARDED:
        shards = range(len(meta.get("shards") or []))
        return [meta_path, *(items_shard_path(folder, k) for k in shards),
                *(embedding_shard_path(folder, s, k) for s in spaces for k in shards)]
    return [meta_path, folder / "items.parquet", *(folder / "embeddings" / f"{s}.npy" for s in spaces)]


def version_of(files: list[Path]) -> tuple:
    """The identities of `files` (None for one that is missing)."""
    out = []
    for path in files:
        try:
            out.append(file_identity(path))
        except OSError:
            out.append(None)
    return tuple(out)


class Snapshot:
    """The opened dataset of one version of a folder (or why it could not be opened) and its stores."""

    def __init__(self, name: str, folder: Path, files: list[Path], version: tuple,
                 dataset: Dataset | None = None, broken: str | None = None) -> None:
        self.name, self.folder, self.files, self.version = name, folder, files, version
        self.dataset = dataset
        self.broken = broken   # the reason the folder cannot be served, None when it can
        self._loaded = LoadOnce()

    def is_current(self) -> bool:
        """Whether the folder on disk is still this version."""
        return version_of(self.files) == self.version

    def ensure_current(self) -> None:
        """DatasetChanged unless the folder on disk is still this version."""
        if not self.is_current():
            raise DatasetChanged(f"dataset '{self.name}' changed on disk while it was read")

    def once(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The value under `key`, loaded once for this version; DatasetChanged (nothing kept) when the
        folder changed while it was loaded, since the load may then have read the new files."""
        def load_this_version():
            value = load()
            self.ensure_current()
            return value

        return self._loaded.get(key, load_this_version)

    def forget(self, key: tuple, value: Any) -> None:
        """Drop `value` under `key` (when it went stale), unless another thread replaced it already."""
        self._loaded.forget(key, value)
