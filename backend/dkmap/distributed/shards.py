"""Sharded dataset layout for builds beyond one machine's memory, and partitioned reads of any dataset.

A sharded dataset holds the same columns and embedding spaces as a plain one (docs/architecture.md),
split by rows into shards, so no step ever needs the whole table or matrix in memory:
```
DATASET/
  dataset.yaml                      as for a plain dataset, plus `layout: sharded` and `shards: [rows, ...]`
  items/part-00000.parquet          rows offset_k .. offset_k + rows_k − 1 of the items table
  embeddings/<space>/part-00000.npy the same rows of each embedding space (float16 or float32)
  images/                           optional, as for a plain dataset
```
`dkmap.data.store.open_dataset` reads this layout for serving; `PartitionedDataset` reads either
layout as a list of row-range partitions: the shards of a sharded dataset, or fixed-size row ranges
of a plain one (embeddings memory-mapped). Workers open the folder by path, so on a cluster it must
sit on storage every worker reaches (NFS, object store mount).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

from dkmap.atomic import atomic_dir, sha256_file
from dkmap.data.store import (FORMAT_VERSION, METRIC_KINDS, SHARDED, SPLITS, DatasetError,
                              check_embedding, embedding_shard_path, feature_spaces, image_column, image_space,
                              items_shard_path, open_dataset)

log = logging.getLogger(__name__)

DEFAULT_PARTITION_ROWS = 250_000


@dataclass(frozen=True)
class Partition:
    """Rows start .. stop − 1 of a dataset (one shard of a sharded dataset)."""

    index: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


class ShardWriter:
    """Appends shards (an items frame and its embedding rows) to a sharded dataset being written.

    Made by `write_shards`, which places the folder atomically; memory use is one shard at a time.
    """

    def __init__(self, tmp: Path, meta: dict, columns: list[str]):
        self._tmp = tmp
        self.meta = meta
        self.columns = columns
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

    def append(self, items: pd.DataFrame, embeddings: Mapping[str, np.ndarray]) -> None:
        """Write one shard; `embeddings` holds every space, row i = items row i."""
        k = len(self._shards)
        if list(items.columns) != self.columns:
            raise DatasetError(f"shard {k}: columns must be {self.columns}, got {list(items.columns)}")
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
                    shards=self._shards, checksums=self._checksums)
        (self._tmp / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


@contextlib.contextmanager
def write_shards(out_dir: str | os.PathLike, *, name: str, description: str, generators: list[str],
                 metrics: Mapping[str, dict], spaces: list[str]) -> Iterator[ShardWriter]:
    """Yield a ShardWriter; the sharded dataset appears at `out_dir` only when the block succeeds."""
    if not generators:
        raise ValueError("generators must name at least one generator")
    for metric, info in metrics.items():
        if info.get("kind", "score") not in METRIC_KINDS:
            raise ValueError(f"metric '{metric}': kind must be one of {METRIC_KINDS}")
    needed = {"text"} | {image_space(g) for g in generators}
    if not needed <= set(spaces):
        raise ValueError(f"spaces must include {sorted(needed)}, got {sorted(spaces)}")
    meta = {
        "format_version": FORMAT_VERSION, "layout": SHARDED, "name": name, "description": description,
        "generators": list(generators),
        "metrics": {k: {"description": v.get("description", ""), "unit": v.get("unit", ""),
                        "generators": list(v.get("generators", generators[:1])),
                        "kind": v.get("kind", "score")} for k, v in metrics.items()},
        "spaces": sorted(spaces),
    }
    columns = ["id", "prompt", "split"] + [image_column(g) for g in generators] + list(metrics)
    with atomic_dir(out_dir) as tmp:
        writer = ShardWriter(tmp, meta, columns)
        yield writer
        writer._finish()
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
    with write_shards(out_dir, name=ds.name, description=ds.meta.get("description", ""),
                      generators=ds.generators, metrics=ds.metrics, spaces=ds.spaces) as writer:
        for start in range(0, ds.n, shard_rows):
            stop = min(start + shard_rows, ds.n)
            writer.append(ds.items.iloc[start:stop][writer.columns],
                          {space: np.asarray(ds.embedding(space)[start:stop]) for space in ds.spaces})
        if (ds.root / "images").is_dir():
            writer.add_images(ds.root / "images")
    return Path(out_dir)


class PartitionedDataset:
    """A dataset read by row-range partitions (sharded or plain layout): what workers load."""

    def __init__(self, root: str | os.PathLike, partition_rows: int = DEFAULT_PARTITION_ROWS):
        if not isinstance(partition_rows, int) or partition_rows < 1:
            raise ValueError(f"partition_rows must be a positive int, got {partition_rows!r}")
        self.root = Path(root).resolve()
        meta_path = self.root / "dataset.yaml"
        if not meta_path.is_file():
            raise DatasetError(f"{self.root}: not a dataset folder (missing dataset.yaml)")
        self.meta = yaml.safe_load(meta_path.read_text())
        self.sharded = self.meta.get("layout") == SHARDED
        if self.sharded:
            sizes = [int(s) for s in self.meta["shards"]]
        else:
            open_dataset(self.root)  # validates the plain layout once, on the driver
            n = int(self.meta["n_items"])
            sizes = [min(partition_rows, n - s) for s in range(0, n, partition_rows)]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.partitions = [Partition(i, int(offsets[i]), int(offsets[i + 1])) for i in range(len(sizes))]
        self.n = int(offsets[-1])
        if self.n != int(self.meta["n_items"]):
            raise DatasetError(f"{meta_path}: shards hold {self.n} rows but n_items={self.meta['n_items']}")

    @property
    def name(self) -> str:
        return self.meta["name"]

    def feature_spaces(self, metric: str) -> list[str]:
        return feature_spaces(self.meta, metric)

    def embedding(self, part: Partition, space: str) -> np.ndarray:
        """Rows of `part` in embedding `space`, as stored (float16/float32)."""
        if self.sharded:
            return np.load(embedding_shard_path(self.root, space, part.index))
        return np.asarray(_plain_embedding(str(self.root), space)[part.start:part.stop])

    def features(self, part: Partition, metric: str) -> np.ndarray:
        """float32 features of `part` for `metric` (the same concatenation as `Dataset.features`)."""
        return np.concatenate([np.asarray(self.embedding(part, s), dtype=np.float32)
                               for s in self.feature_spaces(metric)], axis=1)

    def columns(self, part: Partition, names: list[str] | None = None) -> pd.DataFrame:
        """Columns `names` (default: all) of the items table for the rows of `part`."""
        if self.sharded:
            return pd.read_parquet(items_shard_path(self.root, part.index), columns=names)
        table = _plain_columns(str(self.root), tuple(names) if names is not None else None)
        return table.iloc[part.start:part.stop].reset_index(drop=True)

    def column(self, name: str) -> pd.Series:
        """One column of the whole table (e.g. split), read column-wise, never the whole table."""
        if self.sharded:
            frames = [pq.read_table(items_shard_path(self.root, p.index), columns=[name])
                      .column(name).to_pandas() for p in self.partitions]
            return pd.concat(frames, ignore_index=True)
        return _plain_columns(str(self.root), (name,))[name]


@functools.lru_cache(maxsize=8)
def _plain_embedding(root: str, space: str) -> np.ndarray:
    """Memory-map of a plain dataset's embedding, opened once per worker process."""
    return np.load(Path(root) / "embeddings" / f"{space}.npy", mmap_mode="r")


@functools.lru_cache(maxsize=8)
def _plain_columns(root: str, names: tuple[str, ...] | None) -> pd.DataFrame:
    """Columns of a plain dataset's items table, read once per worker process."""
    return pd.read_parquet(Path(root) / "items.parquet", columns=list(names) if names else None)
