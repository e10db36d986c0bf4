"""Multi-scale (perplexity-free) input affinities P of one mini-batch.

Every row of the batch is calibrated to every entropy target at once: one safeguarded
Newton/bisection solve runs over the flattened (target, row) pairs, and only the pairs not yet
converged are computed.
"""

from __future__ import annotations

import logging
import math

import torch

from dkmap.projection.kernel import squared_distances

log = logging.getLogger(__name__)

P_FLOOR = 1e-10
MAX_LOG_STEP = math.log(4.0)


def entropy_targets(batch_size: int) -> list[int]:
    """Entropy targets h = 1 … round(log2(b/2)) − 1 in bits for a batch of b points."""
    top = round(math.log2(batch_size / 2)) - 1
    if top < 1:
        raise ValueError(f"a batch of {batch_size} points is too small for multi-scale "
                         "affinities; it needs at least 6 points")
    return list(range(1, top + 1))


def _exp_without_denormals(t: torch.Tensor) -> torch.Tensor:
    """exp_ in place, arguments floored so no result is subnormal.

    Subnormal floats make exp and later products several times slower on x86; weights below the smallest
    normal float are < 1e-37 of the nearest neighbour's (which is 1), so flooring them is exact
    to working precision.
    """
    return t.clamp_(min=math.log(torch.finfo(t.dtype).tiny) + 1.0).exp_()


def _entropy_and_slope(neg_beta: torch.Tensor, dist: torch.Tensor, work: torch.Tensor,
                       self_col: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropy (nats) of p ∝ exp(−β·d²) per row, and its derivative in ln β (−β²·Var_p(d²)).

    All (rows × b) intermediates live in `work`, reused across iterations: fresh tensors this
    large are mmapped by malloc each time, and the page faults cost more than the arithmetic.
    """
    torch.mul(dist, neg_beta, out=work)
    _exp_without_denormals(work)
    flat = work.view(-1, work.shape[-1])
    flat[torch.arange(len(flat), device=work.device), self_col] = 0.0   # j ≠ i
    z = work.sum(-1)
    work.mul_(dist)
    mean = work.sum(-1) / z
    work.mul_(dist)
    second = work.sum(-1) / z
    beta = -neg_beta.squeeze(-1)
    return torch.log(z) + beta * mean, -(beta * beta) * (second - mean * mean).clamp_min(0.0)


def conditional_affinities(d2: torch.Tensor, targets_bits: list[float], tol: float = 1e-4,
                           max_iter: int = 100) -> torch.Tensor:
    """p_{j|i} per target, shape (len(targets), b, b): rows calibrated to entropy h bits.

    Safeguarded Newton on ln(1/(2σ²)): a Newton step when it stays inside the current bracket,
    otherwise a bisection step in ln β (×4 or ÷4 until bracketed). Each (target, row) pair stops
    when |H − h| < tol bits or after max_iter steps (last iterate kept).
    """
    b = d2.shape[0]
    n_targets = len(targets_bits)
    eye = torch.eye(b, dtype=torch.bool, device=d2.device)
    # Shifting each row by its nearest-neighbour distance leaves p unchanged and keeps Z ≥ 1.
    d2 = d2.masked_fill(eye, float("inf"))
    d2 = d2 - d2.min(1, keepdim=True).values
    mean_row = (d2.masked_fill(eye, 0.0).sum(1) / (b - 1)).clamp_min(1e-12)
    # Any finite self-distance will do: the self weight is zeroed after every exp().
    d2 = d2.masked_fill(eye, 0.0)

    pairs = n_targets * b
    row = torch.arange(pairs, device=d2.device) % b
    target = torch.tensor(targets_bits, dtype=d2.dtype, device=d2.device).repeat_interleave(b)
    target = target * math.log(2.0)
    tol = tol * math.log(2.0)
    # Start each pair at 1/d² of its 2^h-th neighbour: about 2^h points then carry most weight.
    ranks = [min(b - 2, 2 ** round(h)) for h in targets_bits]
    nearest = torch.topk(d2, max(ranks) + 1, dim=1, largest=False).values
    kth = nearest[:, torch.tensor(ranks, device=d2.device)].T.reshape(-1)
    precision = 1.0 / torch.where(kth > 0, kth, mean_row[row])
    lo = torch.zeros(pairs, dtype=d2.dtype, device=d2.device)
    hi = torch.full((pairs,), float("inf"), dtype=d2.dtype, device=d2.device)
    active = torch.arange(pairs, device=d2.device)
    work = torch.empty(pairs, b, dtype=d2.dtype, device=d2.device)
    gathered = torch.empty_like(work)
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        beta = precision[active]
        n = active.numel()
        if n == pairs:   # all pairs: broadcast d2 instead of gathering rows
            entropy, slope = _entropy_and_slope(-beta.view(n_targets, b, 1), d2,
                                                work.view(n_targets, b, b), row)
            entropy, slope = entropy.reshape(-1), slope.reshape(-1)
        else:
            dist = torch.index_select(d2, 0, row[active], out=gathered[:n])
            entropy, slope = _entropy_and_slope(-beta[:, None], dist, work[:n], row[active])
        diff = entropy - target[active]
        done = diff.abs() < tol
        too_flat = diff > 0
        new_lo = torch.where(too_flat, beta, lo[active])
        new_hi = torch.where(too_flat, hi[active], beta)
        bracketed = (new_lo > 0) & torch.isfinite(new_hi)
        fallback = torch.where(bracketed, (new_lo * new_hi.clamp_max(1e30)).sqrt(),
                               torch.where(too_flat, beta * 4.0, beta / 4.0))
        # Newton in ln β, at most a factor 4 per step, accepted only inside the bracket.
        newton = beta * torch.exp((-diff / slope).clamp(-MAX_LOG_STEP, MAX_LOG_STEP))
        inside = (slope < 0) & (newton > new_lo) & (newton < new_hi)
        step = torch.where(inside, newton, fallback)
        keep = active[~done]
        lo[keep] = new_lo[~done]
        hi[keep] = new_hi[~done]
        precision[keep] = step[~done]
        active = keep
    if active.numel():
        log.debug("%d of %d (target, row) pairs hit max_iter=%d", active.numel(), pairs, max_iter)
    cond = _exp_without_denormals(
        torch.mul(d2, -precision.view(n_targets, b, 1), out=work.view(n_targets, b, b)))
    cond.diagonal(dim1=1, dim2=2).zero_()
    return cond.div_(cond.sum(2, keepdim=True))


def multiscale_affinities(x: torch.Tensor, tol: float = 1e-4, max_iter: int = 100) -> torch.Tensor:
    """Joint P (b, b) of a batch: mean over entropy targets of max((P_c + P_cᵀ)/(2b), 1e-10).

    The diagonal is zero; off-diagonal entries sum to 1 (up to the floor).
    """
    b = x.shape[0]
    d2 = squared_distances(x, x)
    cond = conditional_affinities(d2, entropy_targets(b), tol=tol, max_iter=max_iter)
    joint = torch.zeros_like(d2)
    for c in cond:   # one (b, b) target at a time keeps temporaries small
        joint += (c + c.T).mul_(1.0 / (2.0 * b)).clamp_(min=P_FLOOR)
    return joint.div_(len(cond)).fill_diagonal_(0.0)
