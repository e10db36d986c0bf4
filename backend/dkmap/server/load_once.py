"""Values loaded at most once per key, even when several threads ask for the same key at once."""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable


class LoadOnce:
    """A dict whose misses are filled by a loader, one loader run per key at a time: threads asking
    for a key that is being loaded wait for that load instead of repeating it."""

    def __init__(self):
        self._values: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], Any],
            fresh: Callable[[Any], bool] = lambda value: True) -> Any:
        """The value under `key`; `load()` fills it when missing or when `fresh(value)` is false."""
        value = self._values.get(key)
        if value is not None and fresh(value):
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            value = self._values.get(key)
            if value is None or not fresh(value):
                value = load()
                self._values[key] = value
        return value

    def forget(self, key: Hashable, value: Any = None) -> None:
        """Drop the value under `key` (only if it is still `value`, when one is given)."""
        with self._lock:
            if key in self._values and (value is None or self._values[key] is value):
                del self._values[key]

    def keys(self) -> list[Hashable]:
        return list(self._values)
