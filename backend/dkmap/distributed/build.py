"""The map build on a Dask cluster: the single-machine build's stages with the per-item work spread.

Per partition on the workers: read features and project them (transform), bin (metric sum, count)
onto each stored level's lattice, and add image embeddings to a copy of the trained Faiss index.
Partial results are combined by tree reductions; the FFT, the subdivision rule, α refinement
(`validation_mse_fn`: exact or grid route, O(N) at most), sampling and the manifest run once on the
driver with the single-machine build's own functions, so both engines write the same artifacts.
The driver holds per-item positions and metric values (24 bytes per item); a worker holds one
partition (features, positions, one lattice) at a time.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Callable

import numpy as np
from distributed import Client, Future, as_completed
from tqdm.auto import tqdm

from dkmap import pipeline, sampling
from dkmap.atomic import atomic_dir, sha256_file
from dkmap.config import BuildSettings
from dkmap.contour.mask import FarMask
from dkmap.contour.refine import (detail_leaves, refine_alphas, tile_counts, validation_mse_fn,
                                  validation_split)
from dkmap.contour.tiles import Kernel, level_grid
from dkmap.data.store import open_dataset
from dkmap.distributed import tasks
from dkmap.distributed.cluster import connect
from dkmap.distributed.field import DistributedField
from dkmap.distributed.index import build_indexes_dask
from dkmap.distributed.reduction import RETRIES, identity, tree_reduce
from dkmap.distributed.shards import DEFAULT_PARTITION_ROWS, PartitionedDataset

log = logging.getLogger(__name__)

ENGINE = "dask"


def build_map_dask(dataset_dir: str | Path, metric: str, settings: BuildSettings | dict | None = None,
                   scheduler: str | Client | None = None, progress: bool = True, force: bool = False, *,
                   partition_rows: int = DEFAULT_PARTITION_ROWS) -> Path:
    """Build (or reuse) DATASET/maps/<metric>/ on Dask and return its path.

    `scheduler`: an address, a Client, or None for a 2-worker LocalCluster. A plain dataset is split
    into `partition_rows`-row partitions; a sharded one (dkmap.distributed.shards) keeps its shards.
    """
    if isinstance(settings, dict) or settings is None:
        settings = BuildSettings.from_dict(settings)
    if not isinstance(settings, BuildSettings):
        raise TypeError(f"settings must be BuildSettings, a dict or None, got {type(settings).__name__}")
    source = PartitionedDataset(dataset_dir, partition_rows)
    if metric not in source.meta["metrics"]:
        raise ValueError(f"metric {metric!r} is not in dataset {source.name!r}; choose one of "
                         f"{sorted(source.meta['metrics'])}")
    target = source.root / "maps" / metric
    inputs = input_checksums(source, metric)
    if not force and pipeline._reusable(target, inputs, settings):
        log.info("map %s/%s is up to date; reusing %s", source.name, metric, target)
        return target
    pipeline._remove_stale_temporaries(target)
    stages = pipeline._Stages(progress)
    with connect(scheduler) as client:
        build = DaskBuild(client, source, metric, settings, stages, progress)
        with atomic_dir(target) as tmp:
            manifest = build.build_into(tmp, inputs)
            pipeline._write_json(tmp / "manifest.json", manifest)
        with stages("index"):
            index_info = build_indexes_dask(client, source, build.sources, settings, progress)
    pipeline._report(pipeline._summary(source.name, metric, manifest, index_info, stages.timings), progress)
    return target


def input_checksums(source: PartitionedDataset, metric: str) -> dict:
    """The single-machine build's inputs for a plain dataset (so either engine reuses the other's
    build); for a sharded one, the checksum of dataset.yaml, which lists every shard."""
    if not source.sharded:
        return pipeline._input_checksums(open_dataset(source.root), metric)
    return {"dataset.yaml": sha256_file(source.root / "dataset.yaml")}


class RowFetcher:
    """Array-like over a dataset's features: `fetcher[rows]` gathers those rows from the partitions,
    so the single-machine fit (`pipeline._fit`) picks and reads its training sample unchanged."""

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
    def build_into(self, tmp: Path, inputs: dict) -> dict:
        s, stages, progress = self.settings, self.stages, self.progress
        m = self.source.column(self.metric).to_numpy(dtype=np.float64)
        is_train = (self.source.column("split") == "train").to_numpy()
        if not np.isfinite(m).all():
            raise ValueError(f"metric {self.metric!r} has NaN or inf values; fix the dataset first")
        with stages("fit"):
            fitted, n_fit = pipeline._fit(RowFetcher(self), m, is_train, s, progress)
            fitted.save(tmp / "projector.pt")
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
            np.save(tmp / "positions.npy", positions.astype(np.float32))
            np.save(tmp / "values.npy", m)
        k = fitted.kernel
        beta = float(k["beta"])
        alpha0 = float(k["alpha"]) / norm["scale"] ** (2 * beta)
        kernel = Kernel(alpha=alpha0, beta=beta, scale=float(k["scale"]), m_mean=float(k["m_mean"]))
        with stages("subdivision"):
            counts = [tile_counts(positions, z) for z in range(s.max_level + 1)]
            deepest = next((z for z in range(s.max_level + 1)
                            if counts[z].max() < s.subdivide_min_points), s.max_level)
            max_level = max(0, min(s.max_level, deepest))
        with stages("refine"):
            val, centres = validation_split(is_train, s.refine_val_fraction, s.refine_val_max, s.seed)
            bar = tqdm(total=max_level + 1, desc="refine α", disable=not progress, leave=False)
            refinement = refine_alphas(alpha0, max_level + 1,
                                       validation_mse_fn(positions, m, kernel, val, centres),
                                       s.alpha_growth, s.refine_tolerance, bar.update)
            bar.close()
        lo, hi = np.percentile(m, [1, 99])
        field = DistributedField(positions, m, kernel, s.tile_size, s.max_grid, s.oversample,
                                 s.near_margin, binner=self.bin_all)
        n_stored = min(field.precomputed_levels, max_level + 1)
        mask = FarMask(positions, s.mask_radius) if s.mask_enabled else None
        with stages("levels"):
            (tmp / "levels").mkdir()
            leaves: dict[str, list[list[int]]] = {}
            previous = None
            for z in tqdm(range(n_stored), desc="contour levels", disable=not progress, leave=False):
                grid = level_grid(field, z, refinement.levels[z].alpha, mask)
                np.save(tmp / "levels" / f"level_{z}.npy", grid)
                if previous is not None:
                    flat = detail_leaves(previous, grid, s.tile_size,
                                         s.subdivide_detail_tol * max(hi - lo, 1e-12))
                    leaves[str(z - 1)] = np.argwhere(flat)[:, ::-1].tolist()
                previous = grid
            del previous, field
        with stages("sampling"):
            blue = sampling.bluenoise_levels(positions, s.bluenoise_radius0, max_level, s.seed)
            rand = sampling.random_levels(len(positions), sampling.cumulative_counts(blue, max_level), s.seed)
            np.save(tmp / "sampling_bluenoise.npy", blue)
            np.save(tmp / "sampling_random.npy", rand)
        files = {p.relative_to(tmp).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                 for p in sorted(tmp.rglob("*")) if p.is_file()}
        import dask

        return {
            "format": pipeline.MAP_FORMAT, "dataset": self.source.name, "metric": self.metric,
            "n_items": int(len(m)), "inputs": inputs, "settings": s.to_dict(),
            "kernel": {"alpha": alpha0, "beta": beta, "scale": kernel.scale, "m_mean": kernel.m_mean},
            "projection_kernel": {key: float(v) for key, v in k.items()},
            "normalisation": norm,
            "training": {"n_fit": n_fit, "n_train": int(is_train.sum())},
            "colour_domain": [float(lo), float(hi)], "value_range": [float(m.min()), float(m.max())],
            "tile_size": s.tile_size, "max_level": max_level,
            "precomputed_levels": list(range(n_stored)),
            "levels": [lv.to_dict() for lv in refinement.levels],
            "refinement_stopped_at": refinement.stopped_at,
            "refinement": {"epsilon": refinement.epsilon, "mse_val0": refinement.mse_val0,
                           "n_val": int(len(val)), "n_centres": int(len(centres)), "growth": s.alpha_growth},
            "subdivision": {"min_points": s.subdivide_min_points,
                            "detail_tolerance": s.subdivide_detail_tol * float(hi - lo),
                            "max_level": max_level, "detail_leaves": leaves},
            "mask": {"enabled": s.mask_enabled, "radius": s.mask_radius if s.mask_enabled else None},
            "sampling": {"bluenoise_radius0": s.bluenoise_radius0,
                         "counts": sampling.cumulative_counts(blue, max_level).tolist()},
            "engine": {"name": ENGINE, "partitions": len(self.parts), "dask": dask.__version__,
                       "workers": len(self.client.scheduler_info()["workers"])},
            "files": files, "timings": stages.timings, "versions": pipeline.versions(),
            "created": pipeline.dt.datetime.now(pipeline.dt.timezone.utc).isoformat(timespec="seconds"),
        }

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
    """(unit-square positions, metric values) of one partition: `normalise_positions`' arithmetic
    with the global scale and shift, so the values equal the driver's bit for bit."""
    positions = np.clip(np.asarray(raw, dtype=np.float64) * scale + np.asarray(shift), 0.0, 1.0)
    return positions, tasks.values(source, part, metric)


def _bin_part(part: tuple[np.ndarray, np.ndarray], resolution: int, window) -> np.ndarray:
    return tasks.bin_window(part[0], part[1], resolution, window)
