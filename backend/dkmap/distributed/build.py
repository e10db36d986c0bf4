"""The map build on a Dask cluster: the single-machine build's stages with the per-item work spread.

Per partition on the workers: read features and project them (transform), bin (metric sum, count)
onto each stored level's lattice, and add image embeddings to a copy of the trained Faiss index.
Partial results are combined by tree reductions; the FFT, the subdivision rule, α refinement
(`validation_mse_fn`: exact or grid route, O(N) at most), sampling and the manifest run once on the
driver in the single-machine build's own `pipeline.finish_map` (with a field whose global lattices
are binned on the cluster), so both engines write the same artifacts.
The driver holds per-item positions and metric values (24 bytes per item); a worker holds one
partition (features, positions, one lattice) at a time.
"""

from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path
from typing import Callable

import numpy as np
from distributed import Client, Future, as_completed
from tqdm.auto import tqdm

from dkmap import pipeline
from dkmap.config import BuildSettings
from dkmap.distributed import tasks
from dkmap.distributed.cluster import connect
from dkmap.distributed.field import DistributedField
from dkmap.distributed.index import build_indexes_dask
from dkmap.distributed.reduction import RETRIES, identity, tree_reduce
from dkmap.distributed.shards import DEFAULT_PARTITION_ROWS, PartitionedDataset
from dkmap.locks import building
from dkmap.maps import layout
from dkmap.maps.built import to_unit_square
from dkmap.maps.manifest import Manifest

log = logging.getLogger(__name__)

ENGINE = "dask"


def build_map_dask(dataset_dir: str | Path, metric: str, settings: BuildSettings | dict | None = None,
                   scheduler: str | Client | None = None, progress: bool = True, force: bool = False, *,
                   partition_rows: int = DEFAULT_PARTITION_ROWS, wait_s: float | None = 0) -> Path:
    """Build (or reuse) DATASET/maps/<metric>/ on Dask and return its path.

    `scheduler`: an address, a Client, or None for a 2-worker LocalCluster. A plain dataset is split
    into `partition_rows`-row partitions; a sharded one (dkmap.distributed.shards) keeps its shards.
    """
    settings = pipeline.coerce_settings(settings)
    source = PartitionedDataset(dataset_dir, partition_rows)
    pipeline.require_metric(source.name, source.meta["metrics"], metric)
    with building(source.root, source.name, metric, wait_s):
        return _build_locked(source, metric, settings, scheduler, progress, force)


def _build_locked(source: "PartitionedDataset", metric: str, settings: BuildSettings,
                  scheduler: str | Client | None, progress: bool, force: bool) -> Path:
    target = layout.map_dir(source.root, metric)
    # the same inputs as the single-machine build, so either engine reuses the other's build
    inputs = pipeline.input_checksums(source.root, source.meta, metric)
    if pipeline.reused(target, inputs, settings, force, progress):
        return target
    stages = pipeline.Stages(progress)
    with connect(scheduler) as client:
        build = DaskBuild(client, source, metric, settings, stages, progress)
        manifest = pipeline.write_map(target, lambda tmp: build.build_into(tmp, inputs))
        with stages("index"):
            index_info = build_indexes_dask(client, source, build.sources, settings, progress)
    pipeline.report(pipeline.summary(source.name, metric, manifest, index_info, stages.timings), progress)
    return target


class RowFetcher:
    """Array-like over a dataset's features: `fetcher[rows]` gathers those rows from the partitions,
    so the single-machine fit (`pipeline.fit_projection`) picks and reads its training sample unchanged."""

    def __init__(self, build: "DaskBuild"):
        self.build = build

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        b = self.build
        starts = np.array([p.start for p in b.parts])
        owner = np.searchsorted(starts, rows, side="right") - 1
        picks = [rows[owner == i] for i in range(len(b.parts))]
        futures = b.map_parts("sample", tasks.take_rows, b.sources, b.parts, b.each(b.metric), picks)
        b.wait(futures, "sample")
        gathered = np.concatenate(b.client.gather(futures))
        out = np.empty_like(gathered)
        out[np.concatenate([np.flatnonzero(owner == i) for i in range(len(b.parts))])] = gathered
        return out


class DaskBuild:
    """One build's cluster side: per-partition tasks, each retried; reductions combine their results."""

    def __init__(self, client: Client, source: PartitionedDataset, metric: str, settings: BuildSettings,
                 stages, progress: bool):
        self.client, self.source, self.metric, self.settings = client, source, metric, settings
        self.stages, self.progress = stages, progress
        self.parts = source.partitions
        self.token = uuid.uuid4().hex[:8]
        # submitted, not scattered: data held only by a task's arguments survives a lost worker
        self.sources = [client.submit(identity, source, key=f"source-{self.token}")] * len(self.parts)
        self.part_data: list[Future] = []   # (positions, values) per partition, with lineage

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

    # -- the stages, in the single-machine build's order --------------------------------------------
    def build_into(self, tmp: Path, inputs: dict) -> Manifest:
        s, stages, progress = self.settings, self.stages, self.progress
        m = pipeline.metric_values(self.source.column(self.metric), self.metric)
        is_train = (self.source.column("split") == "train").to_numpy()
        with stages("fit"):
            fitted, n_fit = pipeline.fit_projection(RowFetcher(self), m, is_train, s, progress)
            fitted.save(tmp / layout.PROJECTOR)
        with stages("transform"):
            net = self.client.submit(_slim, fitted, key=f"fitted-{self.token}", pure=False)
            raw_parts = self.map_parts("transform", tasks.project, self.sources, self.parts,
                                       self.each(self.metric), self.each(net))
            self.wait(raw_parts, "transform")
            positions, norm = pipeline.normalise_positions(np.concatenate(self.client.gather(raw_parts)),
                                                           s.margin)
            # the same scaling applied per partition on the workers; computed from the transform
            # futures (not scattered), so a lost worker's partitions can be recomputed
            self.part_data = self.map_parts("positions", _part_data, raw_parts, self.sources, self.parts,
                                            self.each(self.metric), scale=norm["scale"], shift=norm["shift"])
            del raw_parts
            pipeline.save_positions(tmp, positions, m)
        import dask

        engine = {"name": ENGINE, "partitions": len(self.parts), "dask": dask.__version__,
                  "workers": len(self.client.scheduler_info()["workers"])}
        return pipeline.finish_map(tmp, dataset=self.source.name, metric=self.metric, positions=positions,
                                   m=m, is_train=is_train, fitted=fitted, n_fit=n_fit, norm=norm,
                                   inputs=inputs, settings=s, stages=stages, progress=progress,
                                   field_type=functools.partial(DistributedField, binner=self.bin_all),
                                   extra={"engine": engine})

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
