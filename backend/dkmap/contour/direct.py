"""Direct (exact) kernel sums Σ K(q, y_k)·m_k and Σ K(q, y_k): the reference the FFT must match."""

from __future__ import annotations

import logging

import numpy as np
import torch

from dkmap.device import pick_device

log = logging.getLogger(__name__)

# Elements of one (queries × centres) block; ~130 MB in float64.
BLOCK_ELEMENTS = 1 << 24


def direct_sums(queries: np.ndarray, centres: np.ndarray, values: np.ndarray, alpha: float,
                beta: float, device: str | torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) of Nadaraya–Watson at each query, float64, in O(queries × centres)."""
    device = pick_device(device)
    q = torch.as_tensor(np.asarray(queries, dtype=np.float64), device=device)
    c = torch.as_tensor(np.asarray(centres, dtype=np.float64), device=device)
    v = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    num = torch.zeros(len(q), dtype=torch.float64, device=device)
    den = torch.zeros(len(q), dtype=torch.float64, device=device)
    q_step = max(1, min(len(q), BLOCK_ELEMENTS // max(1, len(c))))
    c_step = max(1, BLOCK_ELEMENTS // q_step)
    for i in range(0, len(q), q_step):
        qi = q[i:i + q_step]
        for j in range(0, len(c), c_step):
            d2 = (qi[:, None, 0] - c[None, j:j + c_step, 0]).square_()
            d2 += (qi[:, None, 1] - c[None, j:j + c_step, 1]).square_()
            k = d2.pow_(beta).mul_(alpha).add_(1.0).reciprocal_()
            num[i:i + q_step] += k @ v[j:j + c_step]
            den[i:i + q_step] += k.sum(1)
    return num.cpu().numpy(), den.cpu().numpy()


def direct_values(queries: np.ndarray, centres: np.ndarray, values: np.ndarray, alpha: float,
                  beta: float, scale: float = 1.0, m_mean: float = 0.0,
                  device: str | torch.device | None = None) -> np.ndarray:
    """m̂(q) = (1 − s)·μ + s·NW_m(q) evaluated exactly (metric units)."""
    num, den = direct_sums(queries, centres, values, alpha, beta, device)
    return (1.0 - scale) * m_mean + scale * num / den
