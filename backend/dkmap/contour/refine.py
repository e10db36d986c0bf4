"""Validation-constrained α refinement per zoom level (METHOD.md §5) and the subdivision stop rule.

α_0 is the learned α. Level k tries α_k = α_{k−1} + Δα_{k−1} with Δα_{k−1} = (growth − 1)·α_{k−1} and
accepts it only while MSE_vl(α_k) ≤ MSE_vl(α_0) + ε, where the validation items are held out of the
kernel sums. At the first failure refinement stops: deeper levels keep the last accepted α and gain
detail from resolution alone. β never changes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import scipy.ndimage
import torch

from dkmap.contour.direct import direct_values
from dkmap.contour.tiles import Kernel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelAlpha:
    """α used at one level, its validation MSE, and whether a new α was accepted there."""

    z: int
    alpha: float
    mse_val: float
    accepted: bool
    rejected: dict | None = None  # the α tried and refused at the level where refinement stopped

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["rejected"] is None:
            del d["rejected"]
        return d


@dataclass(frozen=True)
class Refinement:
    levels: list[LevelAlpha]
    stopped_at: int | None   # first level whose candidate α broke the constraint; None if none did
    epsilon: float           # absolute tolerance on MSE_vl (metric units squared)
    mse_val0: float


def validation_split(is_train: np.ndarray, fraction: float, max_items: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, centre rows): validation drawn from train items; centres = the other train items.

    Test items take no part, so choosing α uses nothing of the test split.
    """
    is_train = np.asarray(is_train, dtype=bool)
    train = np.flatnonzero(is_train)
    if len(train) < 4:
        raise ValueError(f"α refinement needs at least 4 train items, got {len(train)}")
    rng = np.random.default_rng(seed)
    n_val = int(min(max_items, max(1, round(fraction * len(train)))))
    n_val = min(n_val, len(train) - 1)
    val = np.sort(rng.choice(train, size=n_val, replace=False))
    centres = np.setdiff1d(train, val, assume_unique=True)
    return val, centres


def validation_mse_fn(positions: np.ndarray, values: np.ndarray, kernel: Kernel, val: np.ndarray,
                      centres: np.ndarray, device: str | torch.device | None = None
                      ) -> Callable[[float], float]:
    """α ↦ MSE of m̂ at the validation items from the centre items only (exact sums, metric units)."""
    qp, qm = positions[val], values[val]
    cp, cm = positions[centres], values[centres]

    def mse(alpha: float) -> float:
        pred = direct_values(qp, cp, cm, alpha, kernel.beta, kernel.scale, kernel.m_mean, device)
        return float(np.mean((pred - qm) ** 2))

    return mse


def refine_alphas(alpha0: float, n_levels: int, mse_fn: Callable[[float], float], growth: float = 1.8,
                  tolerance: float = 0.02, progress: Callable[[], None] | None = None) -> Refinement:
    """α_k for levels 0..n_levels−1; ε = tolerance·MSE_vl(α_0) (relative, so units do not matter)."""
    if alpha0 <= 0:
        raise ValueError(f"alpha0 must be > 0, got {alpha0}")
    if n_levels < 1:
        raise ValueError(f"n_levels must be ≥ 1, got {n_levels}")
    if growth <= 1.0:
        raise ValueError(f"growth must be > 1, got {growth}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    mse0 = mse_fn(alpha0)
    eps = tolerance * mse0
    levels = [LevelAlpha(0, float(alpha0), mse0, True)]
    stopped_at = None
    alpha, mse = float(alpha0), mse0
    if progress:
        progress()
    for z in range(1, n_levels):
        if stopped_at is None:
            candidate = alpha + (growth - 1.0) * alpha
            cand_mse = mse_fn(candidate)
            if cand_mse <= mse0 + eps:
                alpha, mse = candidate, cand_mse
                levels.append(LevelAlpha(z, alpha, mse, True))
            else:
                stopped_at = z
                levels.append(LevelAlpha(z, alpha, mse, False,
                                         {"alpha": candidate, "mse_val": cand_mse}))
                log.info("α refinement stopped at level %d: MSE_vl %.4g > %.4g + ε %.3g",
                         z, cand_mse, mse0, eps)
        else:
            levels.append(LevelAlpha(z, alpha, mse, False))
        if progress:
            progress()
    return Refinement(levels, stopped_at, eps, mse0)


def tile_counts(positions: np.ndarray, z: int) -> np.ndarray:
    """(2^z, 2^z) number of items per tile of level z, indexed [ty, tx]."""
    n = 1 << z
    t = np.clip((np.asarray(positions) * n).astype(np.int64), 0, n - 1)
    return np.bincount(t[:, 1] * n + t[:, 0], minlength=n * n).reshape(n, n)


def upsample2(grid: np.ndarray) -> np.ndarray:
    """Bilinear 2× upsampling onto the child level's cell centres (edges held constant)."""
    n = grid.shape[0]
    u = np.clip(np.arange(2 * n) / 2.0 - 0.25, 0, n - 1)
    yy, xx = np.meshgrid(u, u, indexing="ij")
    return scipy.ndimage.map_coordinates(grid, [yy, xx], order=1, mode="nearest")


def detail_leaves(coarse: np.ndarray, fine: np.ndarray, tile_size: int, tolerance: float) -> np.ndarray:
    """(2^z, 2^z) bool: tiles of the coarse level whose 4 children differ from the upsampled coarse
    values by less than `tolerance` everywhere (the finer level adds no detail there)."""
    diff = np.abs(fine - upsample2(coarse))
    diff = np.where(np.isnan(diff), 0.0, diff)
    n = coarse.shape[0] // tile_size
    per_tile = diff.reshape(n, 2 * tile_size, n, 2 * tile_size).max(axis=(1, 3))
    return per_tile < tolerance
