"""The server's byte-bounded LRU tile cache: bound, recency order and one computation per key."""

from __future__ import annotations

import threading
import time

import pytest

from dkmap.server.tile_cache import ByteLRU


def test_total_bytes_stay_within_the_bound_evicting_least_recent():
    cache = ByteLRU(max_bytes=10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"  # now "b" is the least recent
    cache.put("c", b"cccc")
    assert cache.get("b") is None
    assert cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
    assert cache.size_bytes == 8 and len(cache) == 2


def test_replacing_a_key_updates_the_size_and_oversized_values_are_not_kept():
    cache = ByteLRU(max_bytes=10)
    cache.put("a", b"aaaa")
    cache.put("a", b"aa")
    assert cache.size_bytes == 2
    cache.put("big", b"x" * 11)
    assert cache.get("big") is None and cache.size_bytes == 2


def test_concurrent_misses_compute_once():
    cache = ByteLRU(max_bytes=1000)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.05)
        return b"tile"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"tile"] * 8 and len(calls) == 1


def test_a_failing_computation_is_not_cached():
    cache = ByteLRU(max_bytes=1000)
    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get_or_compute("k", lambda: b"ok") == b"ok"


def test_negative_bound_is_rejected():
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        ByteLRU(-1)
