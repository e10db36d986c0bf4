"""The training loop: fixed mini-batches with cached multi-scale P, Adam on KL + λ·L_map."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from dkmap.projection.affinities import multiscale_affinities
from dkmap.projection.loss import KernelParams, kernel_regression_errors, kl_divergence
from dkmap.projection.network import ProjectionNet

if TYPE_CHECKING:
    from dkmap.projection.model import DKMap

log = logging.getLogger(__name__)

# P of every batch is kept when it fits in this many bytes; otherwise recomputed each epoch.
AFFINITY_CACHE_BYTES = 2 << 30


def make_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random partition of n rows into ceil(n / batch_size) batches of near-equal size.

    Near-equal sizes mean no batch is a tiny remainder whose KL and validation split are noise.
    """
    return np.array_split(rng.permutation(n), math.ceil(n / batch_size))


def batch_affinities(x: torch.Tensor, batches: list[np.ndarray], device: torch.device,
                     progress: bool) -> list[torch.Tensor]:
    """Multi-scale P of each batch (they depend on x only, so they are computed once)."""
    out = []
    with torch.no_grad():
        for idx in tqdm(batches, desc="affinities", unit="batch", disable=not progress, leave=False):
            out.append(multiscale_affinities(x[torch.from_numpy(idx)].to(device)))
    return out


def train_projection(x: torch.Tensor, m_z: torch.Tensor, settings: DKMap, device: torch.device,
                     progress: bool = True) -> tuple[ProjectionNet, KernelParams, list[dict], float]:
    """Fit the network and kernel on x (N, D float32, CPU) and z-scored metric m_z (N,).

    Returns the trained network, kernel parameters, one history record per epoch, and the
    seconds spent precomputing affinities.
    """
    n, d_in = x.shape
    rng = np.random.default_rng(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = ProjectionNet(d_in, settings.hidden_for(d_in)).to(device)
    kernel = KernelParams(settings.learn_kernel).to(device)
    params = list(net.parameters()) + [p for p in kernel.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=settings.lr)

    batches = make_batches(n, settings.batch_size, rng)
    cache_bytes = sum(len(b) ** 2 for b in batches) * 4
    cached = None
    started = time.perf_counter()
    if cache_bytes <= AFFINITY_CACHE_BYTES:
        cached = batch_affinities(x, batches, device, progress)
    else:
        log.info("affinities need %.1f GiB: recomputing them per batch", cache_bytes / 2**30)
    affinity_seconds = time.perf_counter() - started
    m_z = m_z.to(device)
    history: list[dict] = []
    step = 0
    for epoch in range(settings.epochs):
        net.train()
        started = time.perf_counter()
        sums = {"kl": 0.0, "map": 0.0, "mse_train": 0.0, "mse_val": 0.0}
        bar = tqdm(rng.permutation(len(batches)), desc=f"epoch {epoch + 1}/{settings.epochs}",
                   unit="batch", disable=not progress, leave=False)
        for b in bar:
            idx = torch.from_numpy(batches[b])
            xb = x[idx].to(device)
            if cached is not None:
                p = cached[b]
            else:
                with torch.no_grad():
                    p = multiscale_affinities(xb)
            if step < settings.exaggeration_steps:
                p = p * settings.exaggeration
            y = net(xb)
            kl = kl_divergence(p, y)
            is_val = torch.zeros(len(idx), dtype=torch.bool)
            n_val = max(1, round(len(idx) * settings.val_fraction))
            is_val[torch.from_numpy(rng.permutation(len(idx))[:n_val])] = True
            is_val = is_val.to(device)
            with torch.set_grad_enabled(settings.lam > 0):
                errors = kernel_regression_errors(y, m_z[idx.to(device)], is_val, kernel)
                l_map = settings.w_train * errors.train + settings.w_val * errors.val
            loss = kl + settings.lam * l_map if settings.lam > 0 else kl
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            sums["kl"] += kl.item()
            sums["map"] += l_map.item()
            sums["mse_train"] += errors.train.item()
            sums["mse_val"] += errors.val.item()
            bar.set_postfix(kl=f"{kl.item():.3f}", map=f"{l_map.item():.3f}",
                            alpha=f"{kernel.alpha.item():.3g}", beta=f"{kernel.beta.item():.3g}")
        record = {k: v / len(batches) for k, v in sums.items()}
        record.update(epoch=epoch + 1, alpha=kernel.alpha.item(), beta=kernel.beta.item(),
                      scale=kernel.scale.item(), seconds=time.perf_counter() - started)
        if not all(math.isfinite(v) for v in record.values()):
            raise FloatingPointError(f"training diverged in epoch {epoch + 1}: {record}")
        history.append(record)
        log.info("epoch %d/%d kl=%.4f map=%.4f mse_val=%.4f alpha=%.4g beta=%.4g s=%.4g (%.1fs)",
                 epoch + 1, settings.epochs, record["kl"], record["map"], record["mse_val"],
                 record["alpha"], record["beta"], record["scale"], record["seconds"])
    net.eval()
    return net, kernel, history, affinity_seconds
