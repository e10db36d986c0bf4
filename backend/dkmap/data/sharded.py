"""Writes the sharded dataset layout (data/README.md "The sharded layout"): a dataset split by rows
into shards, written one shard at a time so no step needs the whole table or matrix in memory.
`dkmap.data.store` reads it (`open_dataset`, the shard paths); this module is its only writer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd
import yaml

from dkmap.atomic import atomic_dir, sha256_file
from dkmap.data.columns import ColumnsWriter, check_names
from dkmap.data.store import (FORMAT_VERSION, SHARDED, SPLITS, DatasetError, metrics_meta,
                              check_embedding, embedding_shard_path, image_column, image_space,
                              items_shard_path, open_dataset)

log = logging.getLogger(__name__)


class ShardWriter:
    """Appends shards (an items frame and its embedding rows) to a sharded dataset being written.

    Made by `write_shards`, which places the folder atomically; memory use is one shard at a time.
    """

    def __init__(self, tmp: Path, meta: dict, columns: list[str], metadata: ColumnsWriter | None = None):
        self._tmp = tmp
        self.meta = meta
        self.columns = columns
        self._metadata = metadata
        self._shards: list[int] = []
        self._dims: dict[str, int] = {}
        self._n_train = 0
        self._checksums: dict[str, str] = {}
        (tmp / "items").mkdir()
        for space in meta["spaces"]:
            (tmp / "embeddings" / space).mkdir(parents=True)

    @property
    def n_items(self) -> int:
        return int(sum(self._shards))

    def append(self, items: pd.DataFrame, embeddings: Mapping[str, np.ndarray],
               metadata: pd.DataFrame | None = None) -> None:
        """Write one shard; `embeddings` holds every space, row i = items row i; `metadata` the
        shard's rows of the metadata columns when the dataset was opened with `metadata_columns`."""
        k = len(self._shards)
        if list(items.columns) != self.columns:
            raise DatasetError(f"shard {k}: columns must be {self.columns}, got {list(items.columns)}")
        if (metadata is None) != (self._metadata is None):
            raise DatasetError(f"shard {k}: metadata columns " + (
                "given but the dataset was opened without metadata_columns" if metadata is not None
                else "missing (the dataset was opened with metadata_columns)"))
        if metadata is not None:
            if len(metadata) != len(items):
                raise DatasetError(f"shard {k}: {len(metadata)} rows of metadata columns for {len(items)} items")
            check_names(metadata.columns, set(self.columns) | set(self.meta["metrics"]))
        if not items["split"].isin(SPLITS).all():
            raise DatasetError(f"shard {k}: split must be one of {SPLITS}")
        if set(embeddings) != set(self.meta["spaces"]):
            raise DatasetError(f"shard {k}: embeddings must hold spaces {self.meta['spaces']}, "
                               f"got {sorted(embeddings)}")
        for space, emb in embeddings.items():
            check_embedding(space, emb, len(items))
            if self._dims.setdefault(space, emb.shape[1]) != emb.shape[1]:
                raise DatasetError(f"shard {k}: space '{space}' has {emb.shape[1]} columns, "
                                   f"earlier shards {self._dims[space]}")
            self._write(embedding_shard_path(self._tmp, space, k),
                        lambda path, emb=emb: np.save(path, np.ascontiguousarray(emb)))
        self._write(items_shard_path(self._tmp, k),
                    lambda path: items.reset_index(drop=True).to_parquet(path, index=False))
        if metadata is not None:
            self._metadata.append(metadata)
        self._shards.append(len(items))
        self._n_train += int((items["split"] == "train").sum())

    def add_images(self, folder: str | os.PathLike) -> None:
        """Copy a folder of images (paths as the items' image columns name them) to images/."""
        shutil.copytree(folder, self._tmp / "images", dirs_exist_ok=True)

    def _write(self, path: Path, save) -> None:
        """save(path), then record the file's checksum (dataset.yaml lists every shard's)."""
        save(path)
        self._checksums[path.relative_to(self._tmp).as_posix()] = sha256_file(path)

    def _finish(self) -> None:
        if not self._shards:
            raise ValueError("a sharded dataset needs at least one shard")
        meta = dict(self.meta, n_items=self.n_items, n_train=self._n_train, dims=self._dims,
                    shards=self._shards)
        if self._metadata is not None:
            columns, sums = self._metadata.finish()
            meta["columns"] = columns
            self._checksums.update(sums)
        meta["checksums"] = self._checksums
        (self._tmp / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


@contextlib.contextmanager
def write_shards(out_dir: str | os.PathLike, *, name: str, description: str, generators: list[str],
                 metrics: Mapping[str, dict], spaces: list[str], metadata_columns: bool = False,
                 column_kinds: Mapping[str, str] | None = None) -> Iterator[ShardWriter]:
    """Yield a ShardWriter; the sharded dataset appears at `out_dir` only when the block succeeds.
    `metadata_columns`: every shard also brings its rows of the metadata columns
    (`dkmap.data.columns`, kinds from `column_kinds` or the first shard)."""
    if not generators:
        raise ValueError("generators must name at least one generator")
    needed = {"text"} | {image_space(g) for g in generators}
    if not needed <= set(spaces):
        raise ValueError(f"spaces must include {sorted(needed)}, got {sorted(spaces)}")
    meta = {
        "format_version": FORMAT_VERSION, "layout": SHARDED, "name": name, "description": description,
        "generators": list(generators),
        "metrics": metrics_meta(metrics, generators),
        "spaces": sorted(spaces),
    }
    columns = ["id", "prompt", "split"] + [image_column(g) for g in generators] + list(metrics)
    with atomic_dir(out_dir) as tmp:
        extra = ColumnsWriter(tmp, dict(column_kinds or {})) if metadata_columns else None
        writer = ShardWriter(tmp, meta, columns, extra)
        try:
            yield writer
            writer._finish()
        except BaseException:
            if extra is not None:
                extra.close()
            raise
    log.info("wrote sharded dataset %s (%d items in %d shards)", out_dir, writer.n_items,
             len(writer._shards))


def shard_dataset(plain_dir: str | os.PathLike, out_dir: str | os.PathLike, shard_rows: int) -> Path:
    """Write a plain dataset's items, embeddings and images in the sharded layout, shard by shard
    (embeddings read memory-mapped, so at most one shard of each space is in memory)."""
    if not isinstance(shard_rows, int) or shard_rows < 1:
        raise ValueError(f"shard_rows must be a positive int, got {shard_rows!r}")
    ds = open_dataset(plain_dir)
    if ds.sharded:
        raise DatasetError(f"{ds.root}: already sharded")
    extra = ds.columns
    kinds = {c.name: c.kind for c in extra}
    with write_shards(out_dir, name=ds.name, description=ds.meta.get("description", ""),
                      generators=ds.generators, metrics=ds.metrics, spaces=ds.spaces,
                      metadata_columns=bool(len(extra)), column_kinds=kinds) as writer:
        for start in range(0, ds.n, shard_rows):
            stop = min(start + shard_rows, ds.n)
            rows = np.arange(start, stop)
            metadata = pd.DataFrame({c.name: c.decoded(rows) for c in extra}) if len(extra) else None
            writer.append(ds.items.iloc[start:stop][writer.columns],
                          {space: np.asarray(ds.embedding(space)[start:stop]) for space in ds.spaces}, metadata)
        if (ds.root / "images").is_dir():
            writer.add_images(ds.root / "images")
    return Path(out_dir)
