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

from dkmap.contour.binning import bin_linear, lattice_coords
from dkmap.contour.fft import convolve_t_kernel
from dkmap.projection.kernel import Kernel, t_kernel

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


DIRECT_MAX_PAIRS = 2e8   # above this many (validation × centre) pairs MSE_vl uses the grid route
MAX_NEAR_PAIRS = 3e6     # exact (validation, centre) pairs the grid route evaluates per α


def validation_mse_fn(positions: np.ndarray, values: np.ndarray, kernel: Kernel, val: np.ndarray,
                      centres: np.ndarray, device: str | torch.device | None = None
                      ) -> Callable[[float], float]:
    """α ↦ MSE of m̂ at the validation items from the centre items only (metric units).

    Exact sums when validation × centres is small; otherwise `GridValidation` (FFT far field, exact
    near field), whose error is far below the tolerance ε.
    """
    qp, qm = positions[val], values[val]
    cp, cm = positions[centres], values[centres]
    if len(val) * len(centres) > DIRECT_MAX_PAIRS:
        grid = GridValidation(qp, cp, cm, kernel.beta, device=device)

        def mse_grid(alpha: float) -> float:
            num, den = grid.sums(alpha)
            return float(np.mean((kernel.estimate(num, den) - qm) ** 2))

        return mse_grid

    def mse(alpha: float) -> float:
        pred = kernel.with_alpha(alpha).evaluate(qp, cp, cm, device)
        return float(np.mean((pred - qm) ** 2))

    return mse


class GridValidation:
    """Kernel sums at query points from many centres: FFT grid for the far field (bilinear
    interpolation), exact sums for centres within `near_cells` cells, and the grid's own version of
    those near centres (their 4 binning nodes × the 4 interpolation nodes) taken out again."""

    def __init__(self, queries: np.ndarray, centres: np.ndarray, values: np.ndarray, beta: float,
                 cells: int = 1024, near_cells: int = 16, device: str | torch.device | None = None):
        from scipy.spatial import cKDTree
        self.q = np.asarray(queries, dtype=np.float64)
        self.c = np.asarray(centres, dtype=np.float64)
        self.v = np.asarray(values, dtype=np.float64)
        self.beta, self.n, self.device = float(beta), cells, device
        self.window = (-2, -2, cells + 4, cells + 4)
        self.binned = bin_linear(self.c, self.v, cells, self.window, device="cpu")
        tree = cKDTree(self.c)
        # bound the exact near-field work: shrink the radius where the data are dense
        n_pairs = tree.query_ball_point(self.q, near_cells / cells, workers=-1, return_length=True).sum()
        if n_pairs > MAX_NEAR_PAIRS:
            near_cells = max(3, int(near_cells * np.sqrt(MAX_NEAR_PAIRS / n_pairs)))
        self.near_cells = near_cells
        near = tree.query_ball_point(self.q, near_cells / cells, workers=-1)
        self.pair_q = np.repeat(np.arange(len(self.q)), [len(x) for x in near])
        self.pair_c = np.concatenate([np.asarray(x, dtype=np.int64) for x in near]) if len(near) else \
            np.zeros(0, np.int64)
        self.uq = lattice_coords(self.q, cells)
        self.uc = lattice_coords(self.c, cells)

    def sums(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """(numerator, denominator) at every query for kernel α (β fixed)."""
        h = 1.0 / self.n
        grid = convolve_t_kernel(self.binned, h, alpha, self.beta, self.device).cpu().numpy()
        iq = np.floor(self.uq).astype(np.int64)
        fq = self.uq - iq
        out = np.zeros((2, len(self.q)))
        for wq, dy, dx in _stencil(fq):
            out += wq * grid[:, iq[:, 1] + dy + 2, iq[:, 0] + dx + 2]
        pq, pc = self.pair_q, self.pair_c
        exact = t_kernel(np.sum((self.q[pq] - self.c[pc]) ** 2, axis=1), alpha, self.beta, coincident=0.0)
        ic = np.floor(self.uc[pc]).astype(np.int64)
        fc = self.uc[pc] - ic
        iqp, fqp = iq[pq], fq[pq]
        # the kernel between lattice nodes depends only on the integer offset: one small table per α
        reach = self.near_cells + 4
        offsets = np.arange(-reach, reach + 1)
        table = t_kernel((offsets[:, None] ** 2 + offsets[None, :] ** 2) * h * h, alpha, self.beta,
                         coincident=0.0)
        base_y, base_x = iqp[:, 1] - ic[:, 1] + reach, iqp[:, 0] - ic[:, 0] + reach
        gridded = np.zeros(len(pq))
        for wq, qy, qx in _stencil(fqp):
            for wc, cy, cx in _stencil(fc):
                gridded += wq * wc * table[base_y + (qy - cy), base_x + (qx - cx)]
        delta = exact - gridded
        out[0] += np.bincount(pq, weights=delta * self.v[pc], minlength=len(self.q))
        out[1] += np.bincount(pq, weights=delta, minlength=len(self.q))
        return out[0], out[1]


def _stencil(f: np.ndarray):
    """Bilinear weights and (dy, dx) node offsets for fractional lattice coordinates f (n, 2)."""
    fx, fy = f[:, 0], f[:, 1]
    return (((1 - fx) * (1 - fy), 0, 0), (fx * (1 - fy), 0, 1), ((1 - fx) * fy, 1, 0), (fx * fy, 1, 1))


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
