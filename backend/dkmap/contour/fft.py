"""Kernel sums on a lattice by FFT: binned (value, count) grids convolved with the t-kernel.

K(d) = 1 / (1 + α‖d‖^{2β}) decays like ‖d‖^{-2β}, so it is never truncated: the kernel is laid
out over every offset the window can produce and both grids are zero-padded to at least 2n − 1,
which makes the circular FFT convolution equal to the linear one (no wrap-around).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import scipy.fft
import torch

from dkmap.device import pick_device
from dkmap.projection.kernel import t_kernel

log = logging.getLogger(__name__)


def padded_size(n: int) -> int:
    """FFT length ≥ 2n − 1 with small prime factors."""
    return scipy.fft.next_fast_len(2 * n - 1, real=True)


def kernel_layout(shape: tuple[int, int], spacing: float, alpha: float, beta: float) -> np.ndarray:
    """t-kernel at every lattice offset in circular (FFT) layout, float64 array of `shape`."""
    rows, cols = shape
    oy = np.fft.fftfreq(rows, 1.0 / rows)[:, None]
    ox = np.fft.fftfreq(cols, 1.0 / cols)[None, :]
    d2 = (ox * ox + oy * oy) * (spacing * spacing)
    return t_kernel(d2, alpha, beta, coincident=0.0)


@functools.lru_cache(maxsize=6)
def _kernel_spectrum(shape: tuple[int, int], spacing: float, alpha: float, beta: float,
                     device: torch.device) -> torch.Tensor:
    kernel = torch.from_numpy(kernel_layout(shape, spacing, alpha, beta)).to(device)
    return torch.fft.rfft2(kernel)


def convolve_t_kernel(grids: torch.Tensor, spacing: float, alpha: float, beta: float,
                      device: str | torch.device | None = None) -> torch.Tensor:
    """Σ_nodes grid(node)·K(node' − node) at every node', for a (C, rows, cols) float64 stack.

    `spacing` is the node distance in the same units as α was fitted for (unit square).
    """
    if grids.ndim != 3:
        raise ValueError(f"grids must be (channels, rows, cols), got shape {tuple(grids.shape)}")
    if alpha <= 0 or beta <= 0 or spacing <= 0:
        raise ValueError(f"alpha, beta and spacing must be > 0, got {alpha}, {beta}, {spacing}")
    device = pick_device(device)
    _, rows, cols = grids.shape
    shape = (padded_size(rows), padded_size(cols))
    spectrum = _kernel_spectrum(shape, float(spacing), float(alpha), float(beta), device)
    data = torch.fft.rfft2(grids.to(device=device, dtype=torch.float64), s=shape)
    out = torch.fft.irfft2(data * spectrum, s=shape)
    return out[:, :rows, :cols].contiguous()   # a copy, so the padded buffer is freed
