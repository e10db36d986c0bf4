"""Generalised t-kernel and Nadaraya–Watson regression in the 2-D map, for torch and numpy inputs.

The same functions serve training (autograd, one mini-batch) and direct evaluation over many
centres (chunked so memory stays bounded).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

# Squared distances at or below this count as coincident: the kernel is exactly 1 there and the
# gradient through ‖Δ‖^{2β} is zero, so β < 1 never produces inf·0 = NaN.
COINCIDENT_D2 = 1e-12

# Elements of one (queries × centres) block in nadaraya_watson; bounds memory to ~100 MB (float64).
CHUNK_ELEMENTS = 1 << 23


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


def t_kernel(d2, alpha, beta):
    """K = 1 / (1 + α·(d²)^β) for squared distances d² (torch tensor or numpy array).

    Coincident points (d² ≤ 1e-12) get K = 1 with a zero gradient, so gradients stay finite for
    β < 1. alpha and beta may be floats or 0-d tensors (learnable).
    """
    if isinstance(d2, torch.Tensor):
        positive = d2 > COINCIDENT_D2
        safe = torch.where(positive, d2, torch.ones_like(d2))
        power = torch.where(positive, safe.pow(beta), torch.zeros_like(d2))
        return 1.0 / (1.0 + alpha * power)
    d2 = np.asarray(d2, dtype=np.float64)
    positive = d2 > COINCIDENT_D2
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
