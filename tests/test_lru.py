"""The size-bounded LRU cache (dkmap.lru) behind the server's tile cache: bound, recency order,
one computation per key, different keys computed concurrently."""

from __future__ import annotations

import threading
import time

import pytest

import numpy as np

from dkmap.lru import LRUCache


def test_total_bytes_stay_within_the_bound_evicting_least_recent():
    cache = LRUCache(max_size=10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"  # now "b" is the least recent
    cache.put("c", b"cccc")
    assert cache.get("b") is None
    assert cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
    assert cache.size == 8 and len(cache) == 2


def test_replacing_a_key_updates_the_size_and_oversized_values_are_not_kept():
    cache = LRUCache(max_size=10)
    cache.put("a", b"aaaa")
    cache.put("a", b"aa")
    assert cache.size == 2
    cache.put("big", b"x" * 11)
    assert cache.get("big") is None and cache.size == 2


def test_concurrent_misses_compute_once():
    cache = LRUCache(max_size=1000)
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
    assert results == [b"tile"] * 8 and len(calls) == 1 and cache.computed == 1


def test_misses_on_different_keys_compute_at_the_same_time():
    cache = LRUCache(max_size=1000)
    inside = threading.Barrier(4, timeout=5)  # breaks (raising) unless all four computations overlap

    def compute(k):
        inside.wait()
        return b"v%d" % k

    results = {}
    threads = [threading.Thread(target=lambda k=k: results.update({k: cache.get_or_compute(k, lambda: compute(k))}))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: b"v%d" % k for k in range(4)} and cache.computed == 4


def test_size_of_counts_array_bytes():
    cache = LRUCache(max_size=3 * 4096, size_of=lambda a: a.nbytes)
    for k in range(5):
        cache.put(k, np.full(1024, k, dtype=np.float32))  # 4096 bytes each
    assert list(cache._items) == [2, 3, 4] and cache.size == 3 * 4096
    np.testing.assert_array_equal(cache.get(4), np.full(1024, 4, dtype=np.float32))


def test_a_failing_computation_is_not_cached():
    cache = LRUCache(max_size=1000)
    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get_or_compute("k", lambda: b"ok") == b"ok"


def test_negative_bound_is_rejected():
    with pytest.raises(ValueError, match="max_size must be >= 0"):
        LRUCache(-1)
