"""Where a build reads its rows: a row source gives the metric column, the split, features by row
(the fit's sample), the projection of every item, the contour field and the Faiss index builder.

`LocalRows` holds the features in memory on this machine; `dkmap.builder.dask_rows.DaskRows` reads a
dataset by partitions on a Dask cluster. The driver picks one by engine name and runs the same
stages over either.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from dkmap import similarity
from dkmap.config import BuildSettings
from dkmap.contour.tiles import ContourField
from dkmap.data.store import open_dataset

TRANSFORM_CHUNK = 100_000


class LocalRows:
    """A dataset read whole on this machine (features loaded by `load`, for the build's duration)."""

    field_type = ContourField

    def __init__(self, dataset_dir: str | os.PathLike, progress: bool = True):
        self.ds = open_dataset(dataset_dir)
        self.progress = progress
        self.root: Path = self.ds.root
        self.meta: dict = self.ds.meta
        self.name: str = self.ds.name
        self.metrics: dict = self.ds.metrics
        self.features = None

    def __enter__(self) -> "LocalRows":
        return self

    def __exit__(self, *exc) -> None:
        self.features = None

    def metric(self, metric: str) -> np.ndarray:
        return self.ds.metric(metric)

    def is_train(self) -> np.ndarray:
        return np.asarray(self.ds.is_train, dtype=bool)

    def load(self, metric: str, stages) -> None:
        """The float32 features of `metric` for every item, in memory."""
        with stages("load"):
            self.features = np.asarray(self.ds.features(metric), dtype=np.float32)

    def transform(self, fitted) -> np.ndarray:
        """Raw 2-D positions of every item (chunked forward passes); the features are released."""
        x = self.features
        raw = np.concatenate([fitted.transform(x[i:i + TRANSFORM_CHUNK])
                              for i in tqdm(range(0, len(x), TRANSFORM_CHUNK), desc="transform",
                                            disable=not self.progress, leave=False)])
        self.features = None
        return raw

    def positions_known(self, norm: dict) -> None:
        """Nothing to do here: the contour field gets the positions directly."""

    def engine_info(self) -> dict | None:
        return None

    def index_builder(self, settings: BuildSettings):
        """build(space) -> (index, nprobe, recall@10) over the dataset's embedding `space`, an IVF
        index's nprobe the smallest reaching settings.index_target_recall on held-out queries."""

        def build(space: str) -> tuple[faiss.Index, int | None, float]:
            emb = self.ds.embedding(space)   # read in chunks: a float16 store is not copied whole
            index = similarity.build_index(emb, settings.index_exact_max, settings.index_pq, seed=settings.seed)
            nprobe, recall = similarity.choose_nprobe(index, emb, settings.index_target_recall, k=10,
                                                      seed=settings.seed + 1)
            return index, nprobe, recall

        return build
