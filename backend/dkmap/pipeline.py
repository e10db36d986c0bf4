"""Builds one map (dataset × metric): the only place that orders the stages.

fit projection → positions in the unit square (kernel rescaled) → α per level → stored contour
levels → overlay sampling → Faiss indexes → manifest. Everything is written into a temporary folder
that replaces DATASET/maps/<metric>/ only when complete; the same inputs and settings reuse the build.
The Dask engine (dkmap.distributed) runs its own load/fit/transform and then the same `finish_map`,
`update_indexes` and reuse rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import faiss
import numpy as np
import scipy
import torch
from tqdm.auto import tqdm

import dkmap
from dkmap import sampling, similarity
from dkmap.atomic import atomic_dir, sha256_file
from dkmap.config import BuildSettings
from dkmap.contour.mask import FarMask
from dkmap.contour.refine import (detail_leaves, refine_alphas, tile_counts, validation_mse_fn,
                                  validation_split)
from dkmap.contour.tiles import ContourField, level_grid
from dkmap.data.store import SHARDED, feature_spaces, image_space, open_dataset
from dkmap.locks import building, hold, index_lock_path
from dkmap.maps import layout
from dkmap.maps.built import to_unit_square
from dkmap.maps.manifest import FORMAT, Manifest, MapError, write_json
from dkmap.projection.calibration import density_scaled_alpha
from dkmap.projection.kernel import Kernel

log = logging.getLogger(__name__)

TRANSFORM_CHUNK = 100_000


def build_map(dataset_dir: str | os.PathLike, metric: str, settings: BuildSettings | dict | None = None,
              progress: bool = True, force: bool = False, wait_s: float | None = 0) -> Path:
    """Build (or reuse) DATASET/maps/<metric>/ and return its path; LockedError (naming the holder)
    while another command builds the same map or re-ingests the dataset, after waiting up to
    `wait_s` seconds for it (None: as long as it takes)."""
    settings = coerce_settings(settings)
    ds = open_dataset(dataset_dir)
    require_metric(ds.name, ds.metrics, metric)
    with building(ds.root, ds.name, metric, wait_s):
        return _build_map_locked(ds, metric, settings, progress, force)


def _build_map_locked(ds, metric: str, settings: BuildSettings, progress: bool, force: bool) -> Path:
    target = layout.map_dir(ds.root, metric)
    inputs = input_checksums(ds.root, ds.meta, metric)
    if reused(target, inputs, settings, force, progress):
        return target
    stages = Stages(progress)
    manifest = write_map(target, lambda tmp: _build_into(tmp, ds, metric, settings, inputs, stages, progress))
    with stages("index"):
        index_info = build_indexes(ds, settings, progress)
    report(summary(ds.name, metric, manifest, index_info, stages.timings), progress)
    return target


def coerce_settings(settings: BuildSettings | dict | None) -> BuildSettings:
    """BuildSettings from settings, a dict of overrides or None (the defaults)."""
    if isinstance(settings, dict) or settings is None:
        settings = BuildSettings.from_dict(settings)
    if not isinstance(settings, BuildSettings):
        raise TypeError(f"settings must be BuildSettings, a dict or None, got {type(settings).__name__}")
    return settings


def require_metric(dataset: str, metrics: dict, metric: str) -> None:
    if metric not in metrics:
        raise ValueError(f"metric {metric!r} is not in dataset {dataset!r}; choose one of {sorted(metrics)}")


def reused(target: Path, inputs: dict, settings: BuildSettings, force: bool, progress: bool) -> bool:
    """Remove temporaries of interrupted builds of target; True (and say so) when target is reusable."""
    _remove_stale_temporaries(target)
    if force or not _reusable(target, inputs, settings):
        return False
    report(f"map {target.parent.parent.name}/{target.name}: up to date, reused {target}", progress)
    return True


def write_map(target: Path, build_into: Callable[[Path], Manifest]) -> Manifest:
    """Run build_into(temporary folder) → manifest; the folder with its manifest replaces target."""
    with atomic_dir(target) as tmp:
        manifest = build_into(tmp)
        manifest.write(layout.manifest_path(tmp))
    return manifest


def _build_into(tmp: Path, ds, metric: str, settings: BuildSettings, inputs: dict, stages: "Stages",
                progress: bool) -> Manifest:
    m = metric_values(ds.metric(metric), metric)
    is_train = np.asarray(ds.is_train, dtype=bool)
    with stages("load"):
        x = np.asarray(ds.features(metric), dtype=np.float32)
    with stages("fit"):
        fitted, n_fit = fit_projection(x, m, is_train, settings, progress)
        fitted.save(tmp / layout.PROJECTOR)
    with stages("transform"):
        raw = np.concatenate([fitted.transform(x[i:i + TRANSFORM_CHUNK])
                              for i in tqdm(range(0, len(x), TRANSFORM_CHUNK), desc="transform",
                                            disable=not progress, leave=False)])
        del x
        positions, norm = normalise_positions(raw, settings.margin)
        save_positions(tmp, positions, m)
    return finish_map(tmp, dataset=ds.name, metric=metric, positions=positions, m=m, is_train=is_train,
                      fitted=fitted, n_fit=n_fit, norm=norm, inputs=inputs, settings=settings,
                      stages=stages, progress=progress)


def metric_values(values: np.ndarray, metric: str) -> np.ndarray:
    """The metric column as float64, refusing NaN and inf."""
    m = np.asarray(values, dtype=np.float64)
    if not np.isfinite(m).all():
        raise ValueError(f"metric {metric!r} has NaN or inf values; fix the dataset first")
    return m


def save_positions(tmp: Path, positions: np.ndarray, m: np.ndarray) -> None:
    np.save(tmp / layout.POSITIONS, positions.astype(np.float32))
    np.save(tmp / layout.VALUES, m)


def finish_map(tmp: Path, *, dataset: str, metric: str, positions: np.ndarray, m: np.ndarray,
               is_train: np.ndarray, fitted, n_fit: int, norm: dict, inputs: dict, settings: BuildSettings,
               stages: "Stages", progress: bool, field_type: Callable[..., ContourField] = ContourField,
               extra: dict | None = None) -> Manifest:
    """Every stage after the projection, into tmp: kernel rescaled to the unit square, subdivision,
    α refinement, stored contour levels (on a `field_type` field), overlay sampling; returns the
    manifest (with `extra` entries added). `positions`: unit-square positions of all items."""
    s = settings
    k = fitted.kernel
    kernel = Kernel.from_fitted(k).rescaled(norm["scale"])   # into unit-square coordinates
    if fitted.training.get("n_select"):
        # The kernel was calibrated for the n_fit training items; the map sums over all items.
        kernel = kernel.with_alpha(density_scaled_alpha(kernel.alpha, kernel.beta, n_fit, len(m)))
    alpha0, beta = kernel.alpha, kernel.beta
    positions = np.asarray(positions, dtype=np.float64)
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
    field = field_type(positions, m, kernel, s.tile_size, s.max_grid, s.oversample, s.near_margin)
    n_stored = min(field.precomputed_levels, max_level + 1)
    mask = FarMask(positions, s.mask_radius) if s.mask_enabled else None
    with stages("levels"):
        (tmp / layout.LEVELS).mkdir()
        leaves: dict[str, list[list[int]]] = {}
        previous = None
        for z in tqdm(range(n_stored), desc="contour levels", disable=not progress, leave=False):
            grid = level_grid(field, z, refinement.levels[z].alpha, mask)
            np.save(tmp / layout.level_file(z), grid)
            if previous is not None:
                flat = detail_leaves(previous, grid, s.tile_size,
                                     s.subdivide_detail_tol * max(hi - lo, 1e-12))
                leaves[str(z - 1)] = np.argwhere(flat)[:, ::-1].tolist()   # [tx, ty]
            previous = grid
        del previous, field
    with stages("sampling"):
        blue = sampling.bluenoise_levels(positions, s.bluenoise_radius0, max_level, s.seed)
        rand = sampling.random_levels(len(positions), sampling.cumulative_counts(blue, max_level), s.seed)
        np.save(tmp / layout.sampling_file("bluenoise"), blue)
        np.save(tmp / layout.sampling_file("random"), rand)
    files = {p.relative_to(tmp).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(tmp.rglob("*")) if p.is_file()}
    return Manifest({
        "format": FORMAT,
        "dataset": dataset,
        "metric": metric,
        "n_items": int(len(m)),
        "inputs": inputs,
        "settings": s.to_dict(),
        "kernel": {"alpha": alpha0, "beta": beta, "scale": kernel.scale, "m_mean": kernel.m_mean},
        "projection_kernel": {key: float(v) for key, v in k.items()},
        "normalisation": norm,
        "training": {"n_fit": n_fit, "n_train": int(is_train.sum()), **fitted.training,
                     "projection": fitted.settings, "how_chosen": "docs/defaults.md"},
        "colour_domain": [float(lo), float(hi)],
        "value_range": [float(m.min()), float(m.max())],
        "tile_size": s.tile_size,
        "max_level": max_level,
        "precomputed_levels": list(range(n_stored)),
        "levels": [lv.to_dict() for lv in refinement.levels],
        "refinement_stopped_at": refinement.stopped_at,
        "refinement": {"epsilon": refinement.epsilon, "mse_val0": refinement.mse_val0,
                       "n_val": int(len(val)), "n_centres": int(len(centres)),
                       "growth": s.alpha_growth},
        "subdivision": {"min_points": s.subdivide_min_points,
                        "detail_tolerance": s.subdivide_detail_tol * float(hi - lo),
                        "max_level": max_level, "detail_leaves": leaves},
        "mask": {"enabled": s.mask_enabled,
                 "radius": s.mask_radius if s.mask_enabled else None},
        "sampling": {"bluenoise_radius0": s.bluenoise_radius0,
                     "counts": sampling.cumulative_counts(blue, max_level).tolist()},
        **(extra or {}),
        "files": files,
        "timings": stages.timings,
        "versions": versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    })


def normalise_positions(raw: np.ndarray, margin: float) -> tuple[np.ndarray, dict]:
    """Scale positions into [margin, 1 − margin]² with one factor c for both axes (aspect kept)."""
    raw = np.asarray(raw, dtype=np.float64)
    if not np.isfinite(raw).all():
        raise ValueError("the projection produced NaN or inf positions")
    lo, hi = raw.min(0), raw.max(0)
    span = float((hi - lo).max())
    c = (1.0 - 2.0 * margin) / span if span > 0 else 1.0
    norm = {"scale": c, "shift": (0.5 - c * (lo + hi) / 2.0).tolist()}
    return to_unit_square(raw, norm), norm


def fit_projection(x, m: np.ndarray, is_train: np.ndarray, settings: BuildSettings, progress: bool):
    """Train the projection on the train items (a seeded sample of train_max when there are more)."""
    train = np.flatnonzero(is_train)
    if len(train) > settings.train_max:
        rng = np.random.default_rng(settings.seed)
        train = np.sort(rng.choice(train, size=settings.train_max, replace=False))
        log.info("training the projection on a sample of %d of %d train items", len(train),
                 int(is_train.sum()))
    model = settings.projection_model()
    return model.fit(x[train], m[train], progress=progress), int(len(train))


def build_indexes(ds, settings: BuildSettings, progress: bool = True) -> dict:
    """One Faiss index per generator under DATASET/index/, rebuilt only when its embedding changed."""

    def build(space: str) -> tuple[faiss.Index, float]:
        emb = np.asarray(ds.embedding(space), dtype=np.float32)
        index = similarity.build_index(emb, settings.index_exact_max, settings.index_pq, seed=settings.seed)
        exact = isinstance(index, faiss.IndexFlat)
        return index, 1.0 if exact else similarity.measure_recall(index, emb, k=10, seed=settings.seed)

    return update_indexes(Path(ds.root), ds.meta, settings, build, progress)


def update_indexes(root: Path, meta: dict, settings: BuildSettings,
                   build: Callable[[str], tuple[faiss.Index, float]], progress: bool = True) -> dict:
    """ROOT/index/image_<gen>.faiss per generator and their manifest; `build(space)` gives (index,
    recall@10) for an index that is missing or whose embedding or settings changed."""
    folder = root / "index"
    folder.mkdir(exist_ok=True)
    # Builds of other metrics of this dataset may run at once: they update the indexes in turn.
    with hold(index_lock_path(root), f"the indexes of {root.name}", wait_s=None):
        return _update_indexes_locked(folder, meta, settings, build, progress)


def _update_indexes_locked(folder: Path, meta: dict, settings: BuildSettings,
                           build: Callable[[str], tuple[faiss.Index, float]], progress: bool) -> dict:
    root = folder.parent
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    wanted = {"exact_max": settings.index_exact_max, "pq": settings.index_pq}
    for gen in tqdm(meta["generators"], desc="faiss", disable=not progress, leave=False):
        space = image_space(gen)
        source = embedding_checksum(root, meta, space)
        entry = manifest.get(space, {})
        path = folder / f"{space}.faiss"
        if (path.is_file() and entry.get("input_sha256") == source and source is not None
                and entry.get("settings") == wanted and entry.get("sha256") == sha256_file(path)):
            continue
        started = time.perf_counter()
        index, recall = build(space)
        similarity.save(index, path)
        manifest[space] = {"file": path.name, "kind": type(index).__name__, "n": int(index.ntotal),
                           "d": int(index.d), "recall_at_10": recall, "settings": wanted,
                           "input_sha256": source, "sha256": sha256_file(path),
                           "seconds": time.perf_counter() - started}
    write_json(manifest_path, manifest)
    return manifest


def embedding_checksum(root: Path, meta: dict, space: str) -> str | None:
    """The checksum an index over `space` depends on: the one recorded at ingest (for a sharded
    dataset, its dataset.yaml's, which lists every shard's); None when none is recorded."""
    if meta.get("layout") == SHARDED:
        return sha256_file(Path(root) / "dataset.yaml")
    return meta.get("checksums", {}).get(f"embeddings/{space}.npy")


def versions() -> dict:
    return {"dkmap": dkmap.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__, "faiss": faiss.__version__}


def input_checksums(root: Path, meta: dict, metric: str) -> dict:
    """Checksums of what the map depends on: the table (metric values, split) and feature spaces.
    A sharded dataset's dataset.yaml lists every shard's checksum, so its own checksum stands for all."""
    if meta.get("layout") == SHARDED:
        return {"dataset.yaml": sha256_file(Path(root) / "dataset.yaml")}
    recorded = meta.get("checksums", {})
    files = ["items.parquet"] + [f"embeddings/{s}.npy" for s in feature_spaces(meta, metric)]
    return {f: recorded.get(f) or sha256_file(Path(root) / f) for f in files}


def _reusable(target: Path, inputs: dict, settings: BuildSettings) -> bool:
    """Whether the build at target has the same inputs, settings and format, and loads cleanly."""
    path = layout.manifest_path(target)
    if not path.is_file():
        return False
    try:
        manifest = Manifest(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError):
        return False
    if not manifest.matches(inputs, settings):
        return False
    from dkmap.maps.built import open_map
    try:
        open_map(target)
    except MapError as err:
        log.warning("existing map is damaged (%s); rebuilding", err)
        return False
    return True


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temp folders left by an interrupted build of this map (never the map itself)."""
    if target.parent.is_dir():
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            log.info("removing %s left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)


class Stages:
    """Times each stage and samples the process's peak resident memory while it runs."""

    def __init__(self, progress: bool):
        self.timings: dict[str, dict] = {}
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, name: str):
        peak = [_rss_mb()]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                peak[0] = max(peak[0], _rss_mb())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        started = time.perf_counter()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            peak[0] = max(peak[0], _rss_mb())
            self.timings[name] = {"seconds": round(time.perf_counter() - started, 3),
                                  "peak_rss_mb": round(peak[0], 1)}
            log.info("stage %s: %.1fs, peak RSS %.0f MB", name, self.timings[name]["seconds"], peak[0])


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(name: str, metric: str, manifest: Manifest, index_info: dict, timings: dict) -> str:
    manifest = manifest.data
    lines = [f"map {name}/{metric}: {manifest['n_items']} items, levels 0..{manifest['max_level']} "
             f"(stored {len(manifest['precomputed_levels'])}), colour domain "
             f"[{manifest['colour_domain'][0]:.4g}, {manifest['colour_domain'][1]:.4g}]",
             "  α per level: " + ", ".join(f"{lv['z']}:{lv['alpha']:.4g}{'' if lv['accepted'] else '*'}"
                                           for lv in manifest["levels"])
             + f"  (refinement stopped at {manifest['refinement_stopped_at']})"]
    for stage, t in timings.items():
        lines.append(f"  {stage:<12} {t['seconds']:8.1f} s   peak RSS {t['peak_rss_mb']:8.0f} MB")
    for space, entry in index_info.items():
        lines.append(f"  index {space}: {entry['kind']} recall@10 {entry['recall_at_10']:.3f}")
    return "\n".join(lines)


def report(text: str, progress: bool) -> None:
    log.info("%s", text)
    if progress:
        print(text, file=sys.stderr)
