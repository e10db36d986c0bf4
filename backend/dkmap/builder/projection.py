"""The projection stage: fit the projector on the train items, place every item, scale into the
unit square; writes projector.pt, positions.npy and values.npy into the build folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dkmap.config import BuildSettings
from dkmap.maps import layout
from dkmap.maps.built import to_unit_square
from dkmap.projection.model import MIN_ITEMS

log = logging.getLogger(__name__)


@dataclass
class Projected:
    """What the projection stage hands to the next ones."""

    fitted: object          # dkmap.projection.FittedMap
    n_fit: int              # items the projector was trained on
    positions: np.ndarray   # N×2 float64, unit square
    norm: dict              # {scale, shift}: unit = raw·scale + shift


def project(tmp: Path, rows, m: np.ndarray, is_train: np.ndarray, settings: BuildSettings, stages,
            progress: bool) -> Projected:
    """Fit on `rows.features` (rows picked by index), transform every item through `rows`, normalise."""
    with stages("fit"):
        fitted, n_fit = fit_projection(rows.features, m, is_train, settings, progress)
        fitted.save(tmp / layout.PROJECTOR)
    with stages("transform"):
        positions, norm = normalise_positions(rows.transform(fitted), settings.margin)
        rows.positions_known(norm)
        np.save(tmp / layout.POSITIONS, positions.astype(np.float32))
        np.save(tmp / layout.VALUES, m)
    return Projected(fitted, n_fit, positions, norm)


def metric_values(values: np.ndarray, metric: str) -> np.ndarray:
    """The metric column as float64, refusing NaN and inf."""
    m = np.asarray(values, dtype=np.float64)
    if not np.isfinite(m).all():
        raise ValueError(f"metric {metric!r} has NaN or inf values; fix the dataset first")
    return m


def fit_projection(x, m: np.ndarray, is_train: np.ndarray, settings: BuildSettings, progress: bool):
    """Train the projection on the train items (a seeded sample of train_max when there are more);
    `x[rows]` gives the features of those rows. Returns (FittedMap, items trained on)."""
    train = np.flatnonzero(is_train)
    if len(train) < MIN_ITEMS:
        raise ValueError(f"the dataset's train split has {len(train)} items (of {len(is_train)}); "
                         f"a map needs at least {MIN_ITEMS} train items")
    if len(train) > settings.train_max:
        rng = np.random.default_rng(settings.seed)
        train = np.sort(rng.choice(train, size=settings.train_max, replace=False))
        log.info("training the projection on a sample of %d of %d train items", len(train),
                 int(is_train.sum()))
    model = settings.projection_model()
    return model.fit(x[train], m[train], progress=progress), int(len(train))


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
