"""The contour field with its global lattices binned partition by partition on the cluster.

`ContourField` bins every item onto each global lattice itself; here each partition is binned by a
worker and the partial grids are summed by a tree reduction (binning is linear, so the sum is the
binning of all items), then the same FFT runs once on the driver. Deep tiles (near + far field)
are unchanged and use the driver's copy of the positions.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from dkmap.contour.fft import convolve_t_kernel
from dkmap.contour.tiles import GLOBAL_PAD, ContourField

log = logging.getLogger(__name__)

Binner = Callable[[int, tuple[int, int, int, int]], np.ndarray]


class DistributedField(ContourField):
    """A ContourField whose global (level-wide) lattices come from `binner(resolution, window)`."""

    def __init__(self, *args, binner: Binner, **kwargs):
        super().__init__(*args, **kwargs)
        self._binner = binner
        self._binned: dict[int, np.ndarray] = {}   # by resolution: α only changes the FFT

    def _global(self, z: int, alpha: float) -> torch.Tensor:
        # mirrors ContourField._global with the one binning call replaced (see the module docstring)
        key = (z, float(alpha))
        if key not in self._globals:
            if len(self._globals) >= 4:
                self._globals.pop(next(iter(self._globals)))
            n = self.tile_size << z
            if n not in self._binned:
                window = (-GLOBAL_PAD, -GLOBAL_PAD, n + 2 * GLOBAL_PAD, n + 2 * GLOBAL_PAD)
                self._binned = {n: self._binner(n, window)}
            grids = torch.from_numpy(self._binned[n]).to(self.device)
            self._globals[key] = convolve_t_kernel(grids, 1.0 / n, alpha, self.kernel.beta, self.device)
        return self._globals[key]
