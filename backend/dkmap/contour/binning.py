"""Linear (cloud-in-cell) binning of points onto a regular lattice: sums of a value and counts.

Binning is the first half of evaluating kernel regression by FFT: each point spreads its weight
bilinearly onto the four lattice nodes around it, which conserves mass and keeps first moments.
Node j of a lattice with `resolution` R nodes per unit sits at (j + 0.5) / R, so the nodes of level z
coincide with the cell centres of that level's grid. Rows ↔ y, columns ↔ x.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from dkmap.device import pick_device

log = logging.getLogger(__name__)


def lattice_coords(positions: np.ndarray, resolution: float) -> np.ndarray:
    """Positions in lattice units: node j is at coordinate j (float64, columns x, y)."""
    return np.asarray(positions, dtype=np.float64) * resolution - 0.5


def bin_linear(positions: np.ndarray, values: np.ndarray, resolution: float,
               window: tuple[int, int, int, int], device: str | torch.device | None = None
               ) -> torch.Tensor:
    """Bin `values` and ones bilinearly onto lattice nodes; returns a (2, rows, cols) float64 tensor.

    `window` = (row0, col0, rows, cols) in node indices. Every point's four nodes must lie inside
    the window (a ValueError otherwise), so nothing is lost: channel 0 sums to Σ values, channel 1
    to the number of points. Runs with numpy bincount on the CPU and scatter-add on a GPU.
    """
    positions = np.asarray(positions)
    values = np.asarray(values, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must be (n, 2), got shape {positions.shape}")
    if values.shape != (positions.shape[0],):
        raise ValueError(f"values must be ({positions.shape[0]},), got shape {values.shape}")
    row0, col0, rows, cols = (int(v) for v in window)
    if rows < 2 or cols < 2:
        raise ValueError(f"window must be at least 2×2 nodes, got {rows}×{cols}")
    device = pick_device(device)
    u = lattice_coords(positions, resolution)
    ix = np.floor(u[:, 0]).astype(np.int64) - col0
    iy = np.floor(u[:, 1]).astype(np.int64) - row0
    if len(u) and (ix.min() < 0 or iy.min() < 0 or ix.max() > cols - 2 or iy.max() > rows - 2):
        raise ValueError(f"points fall outside the binning window {window} at resolution "
                         f"{resolution}; select the points inside it first")
    fx = u[:, 0] - np.floor(u[:, 0])
    fy = u[:, 1] - np.floor(u[:, 1])
    if device.type == "cpu":
        return torch.from_numpy(_bin_numpy(ix, iy, fx, fy, values, rows, cols))
    return _bin_torch(ix, iy, fx, fy, values, rows, cols, device)


def _stencil(fx, fy):
    """The four bilinear weights and node offsets (dy, dx) of each point."""
    return (((1 - fx) * (1 - fy), 0, 0), (fx * (1 - fy), 0, 1), ((1 - fx) * fy, 1, 0), (fx * fy, 1, 1))


def _bin_numpy(ix, iy, fx, fy, values, rows, cols) -> np.ndarray:
    out = np.zeros((2, rows * cols), dtype=np.float64)
    for weight, dy, dx in _stencil(fx, fy):
        flat = (iy + dy) * cols + (ix + dx)
        out[0] += np.bincount(flat, weights=weight * values, minlength=rows * cols)
        out[1] += np.bincount(flat, weights=weight, minlength=rows * cols)
    return out.reshape(2, rows, cols)


def _bin_torch(ix, iy, fx, fy, values, rows, cols, device) -> torch.Tensor:
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    ix, iy, fx, fy, values = t(ix), t(iy), t(fx), t(fy), t(values)
    out = torch.zeros((2, rows * cols), dtype=torch.float64, device=device)
    for weight, dy, dx in _stencil(fx, fy):
        flat = (iy + dy) * cols + (ix + dx)
        out[0].index_add_(0, flat, weight * values)
        out[1].index_add_(0, flat, weight)
    return out.reshape(2, rows, cols)
