"""Partitioned reads of a dataset of either layout, for Dask workers: the shards of a sharded
dataset, or fixed-size row ranges of a plain one (embeddings memory-mapped). Workers open the folder
by path, so on a cluster it must sit on storage every worker reaches (NFS, object store mount).
The layouts themselves are `dkmap.data`'s: dataset.yaml is read through its validated reader.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dkmap.data.store import (SHARDED, DatasetError, embedding_shard_path, feature_spaces, items_shard_path,
                              open_dataset, read_meta, shard_sizes)

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


class PartitionedDataset:
    """A dataset read by row-range partitions (sharded or plain layout): what workers load."""

    def __init__(self, root: str | os.PathLike, partition_rows: int = DEFAULT_PARTITION_ROWS):
        if not isinstance(partition_rows, int) or partition_rows < 1:
            raise ValueError(f"partition_rows must be a positive int, got {partition_rows!r}")
        self.root = Path(root).resolve()
        self.meta = read_meta(self.root)
        self.sharded = self.meta.get("layout") == SHARDED
        if self.sharded:
            sizes = shard_sizes(self.root, self.meta)
        else:
            open_dataset(self.root)  # validates the plain layout once, on the driver
            n = int(self.meta["n_items"])
            sizes = [min(partition_rows, n - s) for s in range(0, n, partition_rows)]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.partitions = [Partition(i, int(offsets[i]), int(offsets[i + 1])) for i in range(len(sizes))]
        self.n = int(offsets[-1])

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
