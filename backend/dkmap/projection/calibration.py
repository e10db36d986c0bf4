"""Kernel calibration on held-out items: α, β and s for the full set of centres a map sums over.

Training sees ~1000 centres per mini-batch; the map and its evaluation sum over every train item,
so the learned α is too wide for them. Here the kernel is fitted to items that training never saw
(their positions come from a forward pass, like any new item), predicted from all the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dkmap.projection.kernel import COINCIDENT_D2, squared_distances

# α is searched on a log grid around its starting value, then refined around the best node.
ALPHA_DECADES = (-2.0, 5.0)
COARSE_STEP = 0.5
FINE_STEPS = (-0.25, -0.125, 0.125, 0.25)
BETAS = (0.5, 0.75, 1.0, 1.5, 2.0)
# Elements of one (queries × centres) block of the kernel computation.
BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Calibration:
    """A calibrated kernel and its mean squared error on the held-out items (z-scored units)."""

    alpha: float
    beta: float
    scale: float
    mse: float


def _powers(queries: torch.Tensor, centres: torch.Tensor, beta: float) -> list[torch.Tensor]:
    """(d²)^β between query blocks and all centres (coincident pairs give 0: K = 1 there)."""
    rows = max(1, BLOCK_ELEMENTS // max(1, len(centres)))
    out = []
    for start in range(0, len(queries), rows):
        d2 = squared_distances(queries[start:start + rows], centres)
        out.append(torch.where(d2 > COINCIDENT_D2, d2.clamp_min(COINCIDENT_D2).pow(beta),
                               torch.zeros_like(d2)))
    return out


def _estimates(powers: list[torch.Tensor], values: torch.Tensor, alpha: float) -> torch.Tensor:
    """Nadaraya–Watson estimates at the queries for one α."""
    out = []
    for p in powers:
        k = 1.0 / (1.0 + alpha * p)
        out.append((k @ values) / k.sum(1))
    return torch.cat(out).double()


def _best_scale(nw: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """s minimising mean (s·nw − truth)² (z-scored values: the estimate is s·NW), and that MSE."""
    denom = float((nw * nw).sum())
    s = float((nw * truth).sum()) / denom if denom > 0 else 1.0
    s = min(max(s, 0.0), 4.0)
    return s, float((s * nw - truth).pow(2).mean())


def calibrate_kernel(centres, values, queries, truth, alpha0: float, betas=BETAS,
                     search_alpha: bool = True) -> Calibration:
    """The (α, β, s) that best predict `truth` at `queries` from `values` at `centres`.

    values and truth are z-scored metric values; centres and queries are 2-D positions. β is
    chosen from `betas`, α on a log grid (0.5 decades, then 0.125) around alpha0, or kept at
    alpha0 when not `search_alpha` (then only s is fitted for each β).
    """
    # float32 holds 2-D distances and kernel weights well enough to rank α values, at half the memory.
    centres = torch.as_tensor(np.asarray(centres), dtype=torch.float32)
    queries = torch.as_tensor(np.asarray(queries), dtype=torch.float32)
    values = torch.as_tensor(np.asarray(values), dtype=torch.float32)
    truth = torch.as_tensor(np.asarray(truth), dtype=torch.float64)
    if len(centres) == 0 or len(queries) == 0:
        raise ValueError("calibrate_kernel needs at least one centre and one query")
    if not (math.isfinite(alpha0) and alpha0 > 0):
        raise ValueError(f"alpha0 must be a finite number > 0, got {alpha0!r}")
    best = Calibration(alpha0, float(betas[0]), 1.0, math.inf)
    for beta in betas:
        powers = _powers(queries, centres, float(beta))

        def score(log_alpha: float) -> Calibration:
            alpha = alpha0 * 10.0 ** log_alpha
            s, mse = _best_scale(_estimates(powers, values, alpha), truth)
            return Calibration(alpha, float(beta), s, mse)

        if search_alpha:
            grid = np.arange(ALPHA_DECADES[0], ALPHA_DECADES[1] + 1e-9, COARSE_STEP)
            coarse = [score(g) for g in grid]
            i = int(np.argmin([c.mse for c in coarse]))
            here = min(coarse + [score(grid[i] + step) for step in FINE_STEPS], key=lambda c: c.mse)
        else:
            here = score(0.0)
        if here.mse < best.mse:
            best = here
    return best


def density_scaled_alpha(alpha: float, beta: float, n_calibrated: int, n_centres: int) -> float:
    """α for n_centres centres when it was calibrated with n_calibrated.

    A 2-D kernel estimate's best bandwidth shrinks like n^(-1/6); K depends on the distance
    through α·d^{2β}, so α grows like n^(2β/6).
    """
    if n_calibrated <= 0 or n_centres <= 0:
        raise ValueError(f"centre counts must be positive, got {n_calibrated} and {n_centres}")
    return float(alpha * (n_centres / n_calibrated) ** (beta / 3.0))
