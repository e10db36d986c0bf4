"""Multi-scale (perplexity-free) input affinities P of one mini-batch.

Every row of the batch is calibrated to every entropy target at once: a single bisection runs
over the flattened (target, row) pairs, and only the pairs not yet converged are computed.
"""

from __future__ import annotations

import logging
import math

import torch

from dkmap.projection.kernel import squared_distances

log = logging.getLogger(__name__)

P_FLOOR = 1e-10
SELF_DISTANCE = 1e30


def entropy_targets(batch_size: int) -> list[int]:
    """Entropy targets h = 1 … round(log2(b/2)) − 1 in bits for a batch of b points."""
    top = round(math.log2(batch_size / 2)) - 1
    if top < 1:
        raise ValueError(f"a batch of {batch_size} points is too small for multi-scale "
                         "affinities; it needs at least 6 points")
    return list(range(1, top + 1))


def conditional_affinities(d2: torch.Tensor, targets_bits: list[float], tol: float = 1e-4,
                           max_iter: int = 100) -> torch.Tensor:
    """p_{j|i} per target, shape (len(targets), b, b): rows calibrated to entropy h bits.

    Bisection on the Gaussian precision 1/(2σ²) (doubling/halving until bracketed), stopping each
    (target, row) pair when |H − h| < tol bits or after max_iter steps (last iterate kept).
    """
    b = d2.shape[0]
    n_targets = len(targets_bits)
    eye = torch.eye(b, dtype=torch.bool, device=d2.device)
    # Shifting each row by its nearest-neighbour distance leaves p unchanged and keeps Z ≥ 1.
    d2 = d2.masked_fill(eye, float("inf"))
    d2 = d2 - d2.min(1, keepdim=True).values
    mean_row = (d2.masked_fill(eye, 0.0).sum(1) / (b - 1)).clamp_min(1e-12)
    # A huge finite self-distance makes exp() exactly 0 there without a mask (inf would give 0·inf).
    d2 = d2.masked_fill(eye, SELF_DISTANCE)

    pairs = n_targets * b
    row = torch.arange(pairs, device=d2.device) % b
    target = torch.tensor(targets_bits, dtype=d2.dtype, device=d2.device).repeat_interleave(b)
    precision = (1.0 / mean_row)[row].clone()
    lo = torch.zeros(pairs, dtype=d2.dtype, device=d2.device)
    hi = torch.full((pairs,), float("inf"), dtype=d2.dtype, device=d2.device)
    active = torch.arange(pairs, device=d2.device)
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        dist = d2[row[active]]
        beta = precision[active, None]
        e = torch.exp(-beta * dist)
        z = e.sum(1)
        entropy = (torch.log(z) + beta[:, 0] * (e * dist).sum(1) / z) / math.log(2.0)
        diff = entropy - target[active]
        done = diff.abs() < tol
        too_flat = diff > 0
        new_lo = torch.where(too_flat, precision[active], lo[active])
        new_hi = torch.where(too_flat, hi[active], precision[active])
        grow = torch.where(torch.isinf(new_hi), precision[active] * 2.0,
                           (precision[active] + new_hi) / 2.0)
        shrink = torch.where(new_lo == 0, precision[active] / 2.0,
                             (precision[active] + new_lo) / 2.0)
        step = torch.where(too_flat, grow, shrink)
        keep = active[~done]
        lo[keep] = new_lo[~done]
        hi[keep] = new_hi[~done]
        precision[keep] = step[~done]
        active = keep
    if active.numel():
        log.debug("%d of %d (target, row) pairs hit max_iter=%d", active.numel(), pairs, max_iter)
    cond = torch.exp(-precision.view(n_targets, b, 1) * d2[None])
    return cond / cond.sum(2, keepdim=True)


def multiscale_affinities(x: torch.Tensor, tol: float = 1e-4, max_iter: int = 100) -> torch.Tensor:
    """Joint P (b, b) of a batch: mean over entropy targets of max((P_c + P_cᵀ)/(2b), 1e-10).

    The diagonal is zero; off-diagonal entries sum to 1 (up to the floor).
    """
    b = x.shape[0]
    d2 = squared_distances(x, x)
    cond = conditional_affinities(d2, entropy_targets(b), tol=tol, max_iter=max_iter)
    joint = ((cond + cond.transpose(1, 2)) / (2.0 * b)).clamp_min(P_FLOOR).mean(0)
    return joint.fill_diagonal_(0.0)
