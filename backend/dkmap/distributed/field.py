"""The contour field with its global lattices binned partition by partition on the cluster.

`ContourField` bins every item onto each global lattice itself; here each partition is binned by a
worker and the partial grids are summed by a tree reduction (binning is linear, so the sum is the
binning of all items), then the same FFT runs once on the driver: this overrides the
`ContourField._bin_global` hook only. Deep tiles (near + far field)
are unchanged and use the driver's copy of the positions.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from dkmap.contour.tiles import ContourField

log = logging.getLogger(__name__)

Binner = Callable[[int, tuple[int, int, int, int]], np.ndarray]


class DistributedField(ContourField):
    """A ContourField whose global (level-wide) lattices come from `binner(resolution, window)`."""

    def __init__(self, *args, binner: Binner, **kwargs):
        super().__init__(*args, **kwargs)
        self._binner = binner
        self._binned: dict[int, np.ndarray] = {}

    def _bin_global(self, n: int, window: tuple[int, int, int, int]) -> torch.Tensor:
        if n not in self._binned:
            self._binned = {n: self._binner(n, window)}   # by resolution: α only changes the FFT
        return torch.from_numpy(self._binned[n]).to(self.device)
