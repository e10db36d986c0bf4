"""Deep contour tiles of a built map (dkmap.contour.store.TileStore) under concurrent requests."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from helpers.tiny import DATASET
from dkmap.contour import store
from dkmap.maps import open_built

METRIC = "clip_a"


def open_map(data_dir, metric: str) -> store.TileStore:
    """The tile store of the built map of `metric`."""
    return open_built(data_dir, metric).tiles


def deep_tiles(bm, count: int, first_only: bool = False) -> list[tuple[int, int, int]]:
    """`count` distinct tiles of levels past the stored ones, near the items. `first_only`: of the
    first such level, so that none needs another deep tile (its leaf ancestor) computed first."""
    first = max(bm.manifest.stored_levels) + 1
    last = first if first_only else bm.max_level
    keys = sorted({(z, int(x * (1 << z)), int(y * (1 << z))) for z in range(first, last + 1)
                   for x, y in np.asarray(bm.positions[::7], dtype=np.float64)})
    assert len(keys) >= count
    return keys[:: max(1, len(keys) // count)][:count]


def run_threads(n: int, target) -> list:
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.fixture(scope="module")
def data_dir(tiny_data_dir):
    return tiny_data_dir / DATASET


def test_concurrent_distinct_deep_tiles_equal_sequential_ones(data_dir):
    keys = deep_tiles(open_map(data_dir, METRIC), 12)
    sequential = open_map(data_dir, METRIC)
    want = [sequential.tile(*k) for k in keys]
    concurrent = open_map(data_dir, METRIC)  # a fresh map: field, mask and caches built under concurrency
    got = run_threads(len(keys), lambda i: concurrent.tile(*keys[i]))
    for k, a, b in zip(keys, want, got):
        assert a.shape == (concurrent.tile_size,) * 2
        np.testing.assert_array_equal(a, b, err_msg=f"tile {k}")
    assert any(np.isfinite(a).any() for a in want)


def test_one_missing_tile_requested_concurrently_is_computed_once(data_dir):
    bm = open_map(data_dir, METRIC)
    key = deep_tiles(bm, 1, first_only=True)[0]
    calls = []
    compute = bm._compute

    def slow_compute(*k):
        calls.append(k)
        time.sleep(0.2)  # every thread arrives while the first one computes
        return compute(*k)

    bm._compute = slow_compute
    got = run_threads(8, lambda _: bm.tile(*key))
    assert calls == [key]
    for tile in got[1:]:
        np.testing.assert_array_equal(tile, got[0])
    got[0][:] = 0  # callers get copies: the cached tile is unchanged
    assert not np.array_equal(bm.tile(*key), got[0], equal_nan=True) and calls == [key]


def test_different_missing_tiles_are_computed_at_the_same_time(data_dir):
    bm = open_map(data_dir, METRIC)
    keys = deep_tiles(bm, 4, first_only=True)
    together = threading.Barrier(len(keys), timeout=20)  # broken (an error) if computations are serialised
    compute = bm._compute

    def meet_then_compute(*k):
        together.wait()
        return compute(*k)

    bm._compute = meet_then_compute
    got = run_threads(len(keys), lambda i: bm.tile(*keys[i]))
    assert all(tile.shape == (bm.tile_size,) * 2 for tile in got)


def test_deep_tile_cache_stays_within_its_bound(data_dir, monkeypatch):
    probe = open_map(data_dir, METRIC)
    tile_bytes = probe.tile_size ** 2 * 4
    monkeypatch.setattr(store, "TILE_CACHE_BYTES", 3 * tile_bytes)
    bm = open_map(data_dir, METRIC)
    keys = deep_tiles(bm, 6)
    for k in keys:
        bm.tile(*k)
    info = bm.cache_info()
    assert info["tiles"] == 3 and info["bytes"] == 3 * tile_bytes
    bm.tile(*keys[-1])  # recent: still cached
    assert bm.cache_info()["computed"] == info["computed"]
    bm.tile(*keys[0])  # evicted: computed again
    assert bm.cache_info()["computed"] == info["computed"] + 1


def test_prepared_map_bins_every_item_once_for_all_deep_levels(data_dir, monkeypatch):
    """Only binning every item grows with N: preparation does it once, and deep tiles of levels with
    different α reuse it, with values equal to an unprepared map's bit for bit."""
    from dkmap.contour.tiles import ContourField

    plain = open_map(data_dir, METRIC)
    first = max(plain.manifest.stored_levels) + 1
    keys = [k for k in deep_tiles(plain, 30) if plain.leaf_ancestor(*k) is None]
    levels = sorted({k[0] for k in keys})
    assert len(levels) >= 2 and len({plain.alpha(z) for z in levels}) >= 2, "needs deep levels with distinct α"
    want = [plain.tile(*k) for k in keys]

    binned_items = []
    real_bin = ContourField._bin_global
    monkeypatch.setattr(ContourField, "_bin_global",
                        lambda self, n, window: binned_items.append(len(self.positions)) or real_bin(self, n, window))
    prepared = open_map(data_dir, METRIC)
    assert prepared.has_deep_levels and first <= prepared.max_level
    prepared.prepare_deep_tiles()
    assert binned_items == [len(prepared.positions)]
    assert prepared._sorted_x is not None
    got = [prepared.tile(*k) for k in keys]
    assert binned_items == [len(prepared.positions)], "a deep tile re-binned every item"
    for k, a, b in zip(keys, want, got):
        np.testing.assert_array_equal(a, b, err_msg=f"tile {k}")


def test_a_map_without_deep_levels_has_nothing_to_prepare(data_dir):
    bm = open_map(data_dir, METRIC)
    bm.max_level = max(bm.manifest.stored_levels)   # as if built with every level stored
    assert not bm.has_deep_levels
    bm.prepare_deep_tiles()
    assert bm._field is None


def test_the_server_prepares_deep_tiles_in_the_background_when_it_opens_a_map(data_dir):
    from dkmap.server.registry import Registry

    built = Registry(data_dir.parent).map(DATASET, METRIC)
    assert built.deep_tiles_ready.wait(60)
    field = built.tiles._field
    assert field is not None and field._globals.get(("binned", field.precomputed_levels - 1)) is not None


def test_item_counts_per_tile_add_up_at_every_level(data_dir):
    bm = open_map(data_dir, METRIC)
    pos = np.asarray(bm.positions, dtype=np.float64)
    for z in (0, 1, 2, max(bm.manifest.stored_levels) + 1):
        n = 1 << z
        counts = np.array([[bm.count_in_tile(z, x, y) for x in range(n)] for y in range(n)])
        again = np.array([[bm.count_in_tile(z, x, y) for x in range(n)] for y in range(n)])
        cells = np.minimum((pos * n).astype(int), n - 1)
        want = np.zeros((n, n), dtype=int)
        np.add.at(want, (cells[:, 1], cells[:, 0]), 1)
        np.testing.assert_array_equal(counts, want, err_msg=f"level {z}")
        np.testing.assert_array_equal(again, counts)
