"""Per-partition work run on Dask workers: pure functions of a partition, safe to retry.

Each returns a small result (positions, binned grids, an index shard) so a killed worker only
costs recomputing its partitions.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from dkmap.contour.binning import bin_linear
from dkmap.distributed.partitions import Partition, PartitionedDataset
from dkmap.projection import FittedMap

log = logging.getLogger(__name__)


def take_rows(source: PartitionedDataset, part: Partition, metric: str, rows: np.ndarray) -> np.ndarray:
    """Features of dataset rows `rows` (global indices inside `part`), float32."""
    return source.features(part, metric)[np.asarray(rows) - part.start]


def project(source: PartitionedDataset, part: Partition, metric: str, fitted: FittedMap) -> np.ndarray:
    """Raw 2-D positions (before the unit-square scaling) of the partition's items, float32."""
    torch.set_num_threads(1)  # one thread per Dask worker thread: no oversubscription
    return fitted.transform(source.features(part, metric))


def values(source: PartitionedDataset, part: Partition, metric: str) -> np.ndarray:
    """The partition's metric values, float64, metric units."""
    return source.columns(part, [metric])[metric].to_numpy(dtype=np.float64)


def bin_window(positions: np.ndarray, vals: np.ndarray, resolution: int,
               window: tuple[int, int, int, int]) -> np.ndarray:
    """Linear binning of (metric sum, count) of one partition on a lattice window, (2, rows, cols)."""
    torch.set_num_threads(1)
    return bin_linear(positions, vals, resolution, window, device="cpu").numpy()


def add_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b
