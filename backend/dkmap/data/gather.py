"""Scattered rows of memory-mapped embeddings read fast: no read-around, several reads in flight.

A lasso reads a few thousand rows spread over a store that may not fit in memory (MiniLM rows of
20M items take 15 GB). By default the kernel reads ~100 KB to 1 MB around every page a memory map
touches, which turns 20k rows into gigabytes of disk reads and evicts what other requests need;
and one thread waits for one read at a time. A store that fits in memory is instead read in whole
once, in the background. Measured on the 20M build (BENCHMARKS.md "Scattered row reads"): 20k
cold rows read 15 GB in 13.2 s by default, 97 MB in 1.2 s with random access advised, 0.48 s with 8
reads in flight.
"""

from __future__ import annotations

import mmap
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

READS_IN_FLIGHT = 8
ROWS_PER_TASK = 256
_pool = ThreadPoolExecutor(READS_IN_FLIGHT, thread_name_prefix="gather-rows")


def _memory_maps(array) -> list:
    parts = getattr(array, "_parts", None)  # dkmap.data.store.ShardedArray
    return [m for m in (parts if parts is not None else [array]) if isinstance(m, np.memmap)]


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def prepare_for_scattered_reads(array, memory_bytes: int | None = None) -> str:
    """Advise the kernel how `array` (a memmap or ShardedArray of memmaps) will be read: a store up to a
    quarter of the machine's memory is read in whole in the background ('willneed': soon cached, and then
    every lasso reads memory); a larger one is read at random ('random': a touched page brings in that
    page only, as read-around would cost ~100× the bytes asked for and evict what other requests need).
    Returns the advice given ('none' for arrays in memory)."""
    maps = [m for m in _memory_maps(array) if getattr(m, "_mmap", None) is not None]
    if not maps:
        return "none"
    limit = (physical_memory_bytes() if memory_bytes is None else memory_bytes) // 4
    if sum(m.nbytes for m in maps) <= limit:
        threading.Thread(target=_advise, args=(maps, mmap.MADV_WILLNEED), name="prefetch-rows", daemon=True).start()
        return "willneed"
    _advise(maps, mmap.MADV_RANDOM)
    return "random"


def _advise(maps: list, advice: int) -> None:
    for part in maps:
        part._mmap.madvise(advice)


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
