"""Reads the arrays of one built map so that a file changed under a running server cannot kill it.

A memory-mapped file truncated or rewritten in place makes the next read of a lost page a SIGBUS,
which no Python code can catch. So the arrays are read into memory while the map's total stays
within a budget (`IN_MEMORY_BYTES`, smallest files first as the map asks for them); only larger
ones are memory-mapped, and `check()` compares those files with what was mapped before each use
(a request), so a changed file is reported as a MapError instead of being read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dkmap.maps.manifest import MapError

IN_MEMORY_BYTES = 64 << 20   # per open map (18 bytes an item plus the stored levels); the rest is mapped


def file_identity(path: Path) -> tuple[int, int, int]:
    """(inode, size, modification time): any replacement or write in place changes one of them."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


class MapArrays:
    """The .npy files of one map folder, each read into memory within `budget` bytes or memory-mapped."""

    def __init__(self, root: Path, budget: int = IN_MEMORY_BYTES) -> None:
        self.root = Path(root)
        self.left = int(budget)
        self.mapped: dict[Path, tuple[int, int, int]] = {}

    def load(self, rel: str) -> np.ndarray:
        """The array of `rel` (MapError when it cannot be read as a .npy array)."""
        path = self.root / rel
        try:
            identity = file_identity(path)
            if identity[1] <= self.left:
                array = np.load(path, allow_pickle=False)
                self.left -= identity[1]
                return array
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise MapError(f"{path}: not a readable .npy array ({err})") from err
        self.mapped[path] = identity
        return array

    def check(self) -> None:
        """MapError naming the first memory-mapped file that was replaced, truncated or rewritten."""
        for path, identity in self.mapped.items():
            try:
                now = file_identity(path)
            except OSError:
                now = None
            if now != identity:
                raise MapError(f"{path}: changed on disk since the map was opened "
                               f"({'gone' if now is None else f'{now[1]} bytes, was {identity[1]}'})")
