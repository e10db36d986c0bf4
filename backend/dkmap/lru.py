"""A thread-safe LRU cache bounded by the total size of what it holds, computing each missing key once.

Used for the server's encoded responses (size = bytes) and its open maps (size = 1 each), a built
map's deep contour tiles and a contour field's global grids (size = array bytes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class LRUCache:
    """Keeps the most recently used values up to `max_size` in total, each counted as `size_of(value)`."""

    def __init__(self, max_size: int, size_of: Callable[[Any], int] = len) -> None:
        if max_size < 0:
            raise ValueError(f"max_size must be >= 0, got {max_size}")
        self.max_size = int(max_size)
        self.size_of = size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0
        self.computed = 0

    @property
    def size(self) -> int:
        """Total size of the values held."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any | None:
        """The cached value for `key` (marking it recent), or None."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Store `value`, evicting the least recently used entries to stay within the bound."""
        size = int(self.size_of(value))
        if size > self.max_size:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.max_size:
                _, (_, evicted) = self._items.popitem(last=False)
                self._size -= evicted

    def discard(self, key: Hashable, value: Any) -> None:
        """Remove `key` if it still holds `value` (another thread may have replaced it)."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry[0] is value:
                del self._items[key]
                self._size -= entry[1]

    def values(self) -> list:
        """The values held, least recently used first."""
        with self._lock:
            return [value for value, _ in self._items.values()]

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value, or `compute()` stored and returned. Concurrent misses on one key compute
        once (the others wait for it); misses on different keys compute at the same time."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            pending = self._pending.setdefault(key, threading.Lock())
        try:
            with pending:
                with self._lock:
                    entry = self._items.get(key)
                if entry is not None:
                    return entry[0]
                value = compute()
                with self._lock:
                    self.computed += 1
                self.put(key, value)
                return value
        finally:
            with self._lock:
                if self._pending.get(key) is pending:
                    del self._pending[key]
