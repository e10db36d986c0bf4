"""`build_map`: the only place that orders a map build's stages, for either engine.

load → fit and transform (dkmap.builder.projection) → contour levels and sampling
(dkmap.builder.contour) → Faiss indexes (dkmap.builder.indexes) → manifest, all written into a temporary
folder that replaces DATASET/maps/<metric>/ only when every stage succeeded. The engine is chosen
here, at the edge: it only decides where rows are read and per-item work runs (dkmap.builder.rows).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

import numpy as np

from dkmap.atomic import atomic_dir, sha256_file
from dkmap.builder.contour import contour_and_sampling
from dkmap.builder.indexes import build_indexes
from dkmap.builder.projection import metric_values, project
from dkmap.builder.reuse import input_checksums, remove_stale_temporaries, up_to_date
from dkmap.builder.stages import Stages, report, summary
from dkmap.config import BuildSettings
from dkmap.locks import building
from dkmap.maps import layout
from dkmap.maps.manifest import FORMAT, Manifest

ENGINES = ("local", "dask")


def build_map(dataset_dir: str | os.PathLike, metric: str, settings: BuildSettings | dict | None = None,
              engine: str = "local", *, progress: bool = True, force: bool = False,
              wait_s: float | None = 0, **engine_options) -> Path:
    """Build (or reuse) DATASET/maps/<metric>/ and return its path.

    `engine`: "local" (this machine) or "dask" (engine_options: `scheduler`, an address, a Client or
    None for a 2-worker LocalCluster; `partition_rows`). `force` rebuilds every stage, indexes
    included. LockedError (naming the holder) while another command builds the same map or
    re-ingests the dataset, after waiting up to `wait_s` seconds (None: as long as it takes)."""
    settings = coerce_settings(settings)
    rows = open_rows(dataset_dir, engine, progress, engine_options)
    if metric not in rows.metrics:
        raise ValueError(f"metric {metric!r} is not in dataset {rows.name!r}; choose one of {sorted(rows.metrics)}")
    with building(rows.root, rows.name, metric, wait_s):
        target = layout.map_dir(rows.root, metric)
        # the same inputs for either engine, so either reuses the other's build
        inputs = input_checksums(rows.root, rows.meta, metric)
        remove_stale_temporaries(target)
        if not force and up_to_date(target, rows.meta, inputs, settings):
            report(f"map {rows.name}/{metric}: up to date, reused {target}", progress)
            return target
        stages = Stages(progress)
        with rows, atomic_dir(target) as tmp:
            manifest = _build_into(tmp, rows, metric, settings, inputs, stages, force, progress)
            manifest.write(layout.manifest_path(tmp))
    report(summary(rows.name, metric, manifest.data), progress)
    return target


def open_rows(dataset_dir: str | os.PathLike, engine: str, progress: bool, options: dict):
    """The row source of `engine` over the dataset; ValueError naming the valid engines."""
    if engine == "local":
        if options:
            raise TypeError(f"the local engine takes no options, got {sorted(options)}")
        from dkmap.builder.rows import LocalRows

        return LocalRows(dataset_dir, progress)
    if engine == "dask":
        from dkmap.builder.dask_rows import DaskRows

        return DaskRows(dataset_dir, progress, **options)
    raise ValueError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")


def coerce_settings(settings: BuildSettings | dict | None) -> BuildSettings:
    """BuildSettings from settings, a dict of overrides or None (the defaults)."""
    if isinstance(settings, dict) or settings is None:
        settings = BuildSettings.from_dict(settings)
    if not isinstance(settings, BuildSettings):
        raise TypeError(f"settings must be BuildSettings, a dict or None, got {type(settings).__name__}")
    return settings


def _build_into(tmp: Path, rows, metric: str, settings: BuildSettings, inputs: dict, stages: Stages,
                force: bool, progress: bool) -> Manifest:
    m = metric_values(rows.metric(metric), metric)
    is_train = rows.is_train()
    rows.load(metric, stages)
    projected = project(tmp, rows, m, is_train, settings, stages, progress)
    entries = contour_and_sampling(tmp, projected, m, is_train, settings, stages, progress, rows.field_type)
    with stages("index"):
        indexes = build_indexes(tmp, rows.root, rows.meta, settings, rows.index_builder(settings), force, progress)
    engine = rows.engine_info()
    files = {p.relative_to(tmp).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(tmp.rglob("*")) if p.is_file()}
    return Manifest({
        "format": FORMAT, "dataset": rows.name, "metric": metric, "n_items": int(len(m)),
        "inputs": inputs, "settings": settings.to_dict(),
        **entries,
        "indexes": indexes,
        **({"engine": engine} if engine else {}),
        "files": files,
        "timings": stages.timings,
        "versions": versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    })


def versions() -> dict:
    import faiss
    import scipy
    import torch

    import dkmap

    return {"dkmap": dkmap.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__, "faiss": faiss.__version__}
