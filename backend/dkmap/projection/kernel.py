"""Generalised t-kernel and Nadaraya–Watson regression in the 2-D map, for torch and numpy inputs.

The one place of this maths: training (autograd, one mini-batch), the exact sums the contour's FFT
must match, α refinement and `BuiltMap.predict` all call these functions; `Kernel` is the value
type (α, β, s, μ) every stage passes on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from dkmap.device import pick_device

log = logging.getLogger(__name__)

# Squared distances at or below this count as coincident: the kernel is exactly 1 there and the
# gradient through ‖Δ‖^{2β} is zero, so β < 1 never produces inf·0 = NaN.
COINCIDENT_D2 = 1e-12

# Elements of one (queries × centres) block in nadaraya_watson; bounds memory to ~100 MB (float64).
CHUNK_ELEMENTS = 1 << 23
# Elements of one (queries × centres) block in kernel_sums (~130 MB per float64 temporary).
SUM_BLOCK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class Kernel:
    """Kernel regression m̂(y) = (1 − s)·μ + s·NW(y) with K = 1 / (1 + α‖d‖^{2β}) (METHOD.md §3.2, §4).

    α is in the units of the positions it is used with: a map's kernel is in unit-square
    coordinates (`rescaled`)."""

    alpha: float
    beta: float
    scale: float = 1.0
    m_mean: float = 0.0

    @classmethod
    def from_fitted(cls, kernel: dict) -> "Kernel":
        """The kernel of a FittedMap's `kernel` dict (alpha, beta, scale, m_mean; m_std is the loss's)."""
        return cls(alpha=float(kernel["alpha"]), beta=float(kernel["beta"]), scale=float(kernel["scale"]),
                   m_mean=float(kernel["m_mean"]))

    def to_dict(self) -> dict:
        return asdict(self)

    def with_alpha(self, alpha: float) -> "Kernel":
        """The same kernel with another α (a zoom level's refined α)."""
        return replace(self, alpha=float(alpha))

    def rescaled(self, c: float) -> "Kernel":
        """The kernel for positions multiplied by c: ‖c·d‖^{2β} = c^{2β}‖d‖^{2β}, so α' = α / c^{2β}."""
        return self.with_alpha(self.alpha / c ** (2 * self.beta))

    def estimate(self, num, den):
        """m̂ from the Nadaraya–Watson sums (numerator, denominator), in metric units."""
        return (1.0 - self.scale) * self.m_mean + self.scale * (num / den)

    def evaluate(self, queries, centres, values, device: str | torch.device | None = None) -> np.ndarray:
        """m̂ at each query from every centre, exactly (O(queries × centres)), float64."""
        num, den = kernel_sums(queries, centres, values, self.alpha, self.beta, device)
        # s·num/den rounds as the α refinement always has (estimate() as the tiles: s·(num/den));
        # one association for both would move recorded validation MSEs in their last bits.
        return (1.0 - self.scale) * self.m_mean + self.scale * num / den


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances (len(a), len(b)), non-negative and accurate.

    Low dimensions (the 2-D map) use explicit differences, which are exact; high dimensions use
    the Gram expansion on data centred at b's mean, which avoids most of the cancellation that
    makes plain float32 `cdist` off by ~1e-3.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"squared_distances needs (n, d) and (m, d) tensors, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.shape[1] <= 8:
        return (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)
    centre = b.mean(0, keepdim=True)
    a = a - centre
    b = b - centre
    d2 = a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1)[None, :] - 2.0 * (a @ b.T)
    return d2.clamp_min(0.0)


def t_kernel(d2, alpha, beta, coincident: float = COINCIDENT_D2):
    """K = 1 / (1 + α·(d²)^β) for squared distances d² (torch tensor or numpy array).

    Coincident points (d² ≤ `coincident`, default 1e-12) get K = 1 with a zero gradient, so
    gradients stay finite for β < 1; the contour passes 0 (the formula itself, which is 1 at d = 0).
    alpha and beta may be floats or 0-d tensors (learnable).
    """
    if isinstance(d2, torch.Tensor):
        positive = d2 > coincident
        safe = torch.where(positive, d2, torch.ones_like(d2))
        power = torch.where(positive, safe.pow(beta), torch.zeros_like(d2))
        return 1.0 / (1.0 + alpha * power)
    d2 = np.asarray(d2, dtype=np.float64)
    positive = d2 > coincident
    power = np.where(positive, np.power(np.where(positive, d2, 1.0), float(beta)), 0.0)
    return 1.0 / (1.0 + float(alpha) * power)


def nadaraya_watson(queries, centres, values, alpha, beta,
                    chunk_elements: int = CHUNK_ELEMENTS):
    """Σ_k K(q, c_k)·v_k / Σ_k K(q, c_k) for each query, with the generalised t-kernel.

    Accepts torch tensors (differentiable, computed on their device) or numpy arrays (computed in
    float64 with torch, returned as numpy float64). Processes queries in chunks of at most
    `chunk_elements` kernel entries.
    """
    as_numpy = not isinstance(queries, torch.Tensor)
    if as_numpy:
        queries = torch.from_numpy(np.asarray(queries, dtype=np.float64))
        centres = torch.from_numpy(np.asarray(centres, dtype=np.float64))
        values = torch.from_numpy(np.asarray(values, dtype=np.float64))
        alpha, beta = float(alpha), float(beta)
    if queries.ndim != 2 or centres.ndim != 2 or queries.shape[1] != centres.shape[1]:
        raise ValueError(f"queries and centres must be (n, d) and (m, d), got "
                         f"{tuple(queries.shape)} and {tuple(centres.shape)}")
    if values.ndim != 1 or values.shape[0] != centres.shape[0]:
        raise ValueError(f"values must have one entry per centre ({centres.shape[0]}), got "
                         f"shape {tuple(values.shape)}")
    if centres.shape[0] == 0:
        raise ValueError("nadaraya_watson needs at least one centre")
    values = values.to(centres.dtype)
    rows = max(1, chunk_elements // max(1, centres.shape[0]))
    out = []
    for start in range(0, queries.shape[0], rows):
        k = t_kernel(squared_distances(queries[start:start + rows], centres), alpha, beta)
        weight = k.sum(1).clamp_min(torch.finfo(k.dtype).tiny)
        out.append((k @ values) / weight)
    result = torch.cat(out) if out else values.new_zeros(0)
    return result.numpy() if as_numpy else result


def kernel_sums(queries, centres, values, alpha: float, beta: float,
                device: str | torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Σ_k K(q, c_k)·v_k, Σ_k K(q, c_k)) at each 2-D query, float64, exactly, in blocks of queries ×
    centres: the reference the FFT contour must match, and the map's own estimate."""
    device = pick_device(device)
    q = torch.as_tensor(np.asarray(queries, dtype=np.float64), device=device)
    c = torch.as_tensor(np.asarray(centres, dtype=np.float64), device=device)
    v = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    num = torch.zeros(len(q), dtype=torch.float64, device=device)
    den = torch.zeros(len(q), dtype=torch.float64, device=device)
    q_step = max(1, min(len(q), SUM_BLOCK_ELEMENTS // max(1, len(c))))
    c_step = max(1, SUM_BLOCK_ELEMENTS // q_step)
    for i in range(0, len(q), q_step):
        for j in range(0, len(c), c_step):
            k = t_kernel(squared_distances(q[i:i + q_step], c[j:j + c_step]), float(alpha), float(beta),
                         coincident=0.0)
            num[i:i + q_step] += k @ v[j:j + c_step]
            den[i:i + q_step] += k.sum(1)
    return num.cpu().numpy(), den.cpu().numpy()
