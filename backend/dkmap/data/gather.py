"""Scattered rows of memory-mapped embeddings read fast: no read-around, several reads in flight.

A lasso reads a few thousand rows spread over a store that may not fit in memory (MiniLM rows of
20M items take 15 GB). By default the kernel reads ~100 KB to 1 MB around every page a memory map
touches, which turns 20k rows into gigabytes of disk reads and evicts what other requests need;
and one thread waits for one read at a time. Measured on the 20M build (BENCHMARKS.md "Serving
sharded builds"): 20k cold rows read 15 GB in 10 s by default, 95 MB in 1.3 s with random access
advised, 0.4 s with 8 reads in flight.
"""

from __future__ import annotations

import mmap
from concurrent.futures import ThreadPoolExecutor

import numpy as np

READS_IN_FLIGHT = 8
ROWS_PER_TASK = 256
_pool = ThreadPoolExecutor(READS_IN_FLIGHT, thread_name_prefix="gather-rows")


def _memory_maps(array) -> list:
    parts = getattr(array, "_parts", None)  # dkmap.data.store.ShardedArray
    return [m for m in (parts if parts is not None else [array]) if isinstance(m, np.memmap)]


def advise_random_access(array):
    """Tell the kernel that `array` (a memmap or ShardedArray of memmaps) is read at random rows, so a
    touched page brings in that page only. Returns `array`; arrays in memory are left alone."""
    advice = getattr(mmap, "MADV_RANDOM", None)
    for part in _memory_maps(array):
        mapping = getattr(part, "_mmap", None)
        if advice is not None and mapping is not None:
            mapping.madvise(advice)
    return array


def gather_rows(array, rows: np.ndarray) -> np.ndarray:
    """`array[rows]` as a new array, read in blocks of rows by several threads at once."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    out = np.empty((len(rows), array.shape[1]), dtype=array.dtype)
    if len(rows) <= ROWS_PER_TASK:
        out[:] = array[rows]
        return out

    def fill(start: int) -> None:
        out[start:start + ROWS_PER_TASK] = array[rows[start:start + ROWS_PER_TASK]]

    list(_pool.map(fill, range(0, len(rows), ROWS_PER_TASK)))
    return out
