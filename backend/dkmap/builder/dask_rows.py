"""The Dask engine's row source: a dataset read by row-range partitions on a cluster's workers.

Per partition on the workers: read features and project them (transform), bin (metric sum, count)
onto each stored level's lattice, and add image embeddings to a copy of the trained Faiss index.
Partial results are combined by tree reductions; the FFT, the subdivision rule, α refinement,
sampling and the manifest run once on the driver in the same stages as the local engine (with a
field whose global lattices are binned on the cluster), so both engines write the same artifacts.
The driver holds per-item positions and metric values (24 bytes per item); a worker holds one
partition (features, positions, one lattice) at a time.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import uuid
from typing import Callable

import numpy as np
from distributed import Client, Future, as_completed
from tqdm.auto import tqdm

from dkmap.config import BuildSettings
from dkmap.distributed import tasks
from dkmap.distributed.cluster import connect
from dkmap.distributed.field import DistributedField
from dkmap.distributed.index import index_builder
from dkmap.distributed.partitions import DEFAULT_PARTITION_ROWS, PartitionedDataset
from dkmap.distributed.reduction import RETRIES, identity, tree_reduce
from dkmap.maps.built import to_unit_square

log = logging.getLogger(__name__)


class RowFetcher:
    """Array-like over a dataset's features: `fetcher[rows]` gathers those rows from the partitions,
    so the fit (`dkmap.builder.projection.fit_projection`) picks and reads its training sample unchanged."""

    def __init__(self, rows: "DaskRows", metric: str):
        self.rows, self.metric = rows, metric

    def __getitem__(self, picked: np.ndarray) -> np.ndarray:
        picked = np.asarray(picked)
        b = self.rows
        starts = np.array([p.start for p in b.parts])
        owner = np.searchsorted(starts, picked, side="right") - 1
        picks = [picked[owner == i] for i in range(len(b.parts))]
        futures = b.map_parts("sample", tasks.take_rows, b.sources, b.parts, b.each(self.metric), picks)
        b.wait(futures, "sample")
        gathered = np.concatenate(b.client.gather(futures))
        out = np.empty_like(gathered)
        out[np.concatenate([np.flatnonzero(owner == i) for i in range(len(b.parts))])] = gathered
        return out


class DaskRows:
    """One build's cluster side: per-partition tasks, each retried; reductions combine their results.

    `scheduler`: an address, a Client, or None for a 2-worker LocalCluster. A plain dataset is split
    into `partition_rows`-row partitions; a sharded one keeps its shards."""

    def __init__(self, dataset_dir: str | os.PathLike, progress: bool = True, *,
                 scheduler: str | Client | None = None, partition_rows: int = DEFAULT_PARTITION_ROWS):
        self.source = PartitionedDataset(dataset_dir, partition_rows)
        self.root, self.meta, self.name = self.source.root, self.source.meta, self.source.name
        self.metrics: dict = self.meta["metrics"]
        self.parts = self.source.partitions
        self.progress, self.scheduler = progress, scheduler
        self.token = uuid.uuid4().hex[:8]
        self.features = None
        self.metric_name: str | None = None
        self.part_data: list[Future] = []   # (positions, values) per partition, with lineage
        self._raw_parts: list[Future] = []
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> "DaskRows":
        self.client = self._exit.enter_context(connect(self.scheduler))
        # submitted, not scattered: data held only by a task's arguments survives a lost worker
        self.sources = [self.client.submit(identity, self.source, key=f"source-{self.token}")] * len(self.parts)
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    # -- row source ----------------------------------------------------------------------------------
    def metric(self, metric: str) -> np.ndarray:
        return self.source.column(metric).to_numpy()

    def is_train(self) -> np.ndarray:
        return (self.source.column("split") == "train").to_numpy()

    def load(self, metric: str, stages) -> None:
        """Nothing is loaded: the fit's rows are fetched from the partitions."""
        self.metric_name = metric
        self.features = RowFetcher(self, metric)

    def transform(self, fitted) -> np.ndarray:
        net = self.client.submit(_slim, fitted, key=f"fitted-{self.token}", pure=False)
        self._raw_parts = self.map_parts("transform", tasks.project, self.sources, self.parts,
                                         self.each(self.metric_name), self.each(net))
        self.wait(self._raw_parts, "transform")
        return np.concatenate(self.client.gather(self._raw_parts))

    def positions_known(self, norm: dict) -> None:
        # the same scaling applied per partition on the workers; computed from the transform
        # futures (not scattered), so a lost worker's partitions can be recomputed
        self.part_data = self.map_parts("positions", _part_data, self._raw_parts, self.sources, self.parts,
                                        self.each(self.metric_name), scale=norm["scale"], shift=norm["shift"])
        self._raw_parts = []

    @property
    def field_type(self):
        return functools.partial(DistributedField, binner=self.bin_all)

    def engine_info(self) -> dict:
        import dask

        return {"name": "dask", "partitions": len(self.parts), "dask": dask.__version__,
                "workers": len(self.client.scheduler_info()["workers"])}

    def index_builder(self, settings: BuildSettings):
        return index_builder(self.client, self.source, self.sources, settings)

    # -- cluster helpers -----------------------------------------------------------------------------
    def each(self, value) -> list:
        return [value] * len(self.parts)

    def map_parts(self, name: str, func: Callable, *args_per_part, **kwargs) -> list[Future]:
        """One task per partition: func(*args_i, **kwargs), retried on failure; unique keys per build."""
        return [self.client.submit(func, *(a[i] for a in args_per_part), **kwargs, retries=RETRIES,
                                   key=f"{name}-{self.token}-{i}")
                for i in range(len(self.parts))]

    def wait(self, futures: list[Future], desc: str) -> None:
        """Block until every future is done, with a progress bar (the dashboard shows the same)."""
        bar = tqdm(total=len(futures), desc=desc, unit="part", disable=not self.progress, leave=False)
        for _ in as_completed(futures):
            bar.update()
        bar.close()

    def bin_all(self, resolution: int, window: tuple[int, int, int, int]) -> np.ndarray:
        """(2, rows, cols) binning of every item on a lattice: per partition, then a tree reduction."""
        partial = self.map_parts(f"bin{resolution}", _bin_part, self.part_data, self.each(resolution),
                                 self.each(window))
        # the reduction is submitted before waiting, so pairs are summed as they finish and a worker
        # holds a few lattices, not one per partition
        total = tree_reduce(self.client, tasks.add_arrays, partial, f"bin{resolution}-sum-{self.token}")
        self.wait(partial, f"bin {resolution}²")
        return total.result()


def _slim(fitted):
    """The fitted map without its kernel centres: all a worker needs to transform."""
    from dkmap.projection import FittedMap

    return FittedMap(net=fitted.net, kernel=fitted.kernel, train_positions=np.zeros((0, 2), np.float32),
                     train_values=np.zeros(0), settings=fitted.settings, history=[])


def _part_data(raw: np.ndarray, source: PartitionedDataset, part, metric: str, scale: float,
               shift: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(unit-square positions, metric values) of one partition: the driver's normalisation with the
    global scale and shift, so the values equal the driver's bit for bit."""
    return to_unit_square(raw, {"scale": scale, "shift": shift}), tasks.values(source, part, metric)


def _bin_part(part: tuple[np.ndarray, np.ndarray], resolution: int, window) -> np.ndarray:
    return tasks.bin_window(part[0], part[1], resolution, window)
