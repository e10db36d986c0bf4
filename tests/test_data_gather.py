"""Scattered row reads from memory-mapped embeddings equal plain indexing, plain or sharded."""

from __future__ import annotations

import numpy as np
import pytest

from dkmap.data.gather import ROWS_PER_TASK, gather_rows, prepare_for_scattered_reads
from dkmap.data.store import ShardedArray


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gather")
    whole = np.random.default_rng(0).normal(size=(3000, 12)).astype(np.float16)
    np.save(folder / "whole.npy", whole)
    for k, start in enumerate(range(0, 3000, 700)):
        np.save(folder / f"part{k}.npy", whole[start:start + 700])
    plain = np.load(folder / "whole.npy", mmap_mode="r")
    sharded = ShardedArray([np.load(folder / f"part{k}.npy", mmap_mode="r") for k in range(5)])
    return whole, plain, sharded


@pytest.mark.parametrize("kind", ["plain", "sharded", "in memory"])
@pytest.mark.parametrize("n_rows", [0, 1, ROWS_PER_TASK, ROWS_PER_TASK + 1, 2500])
def test_gathered_rows_equal_indexing(stores, kind, n_rows):
    whole, plain, sharded = stores
    array = {"plain": plain, "sharded": sharded, "in memory": whole}[kind]
    rows = np.random.default_rng(n_rows).choice(3000, size=n_rows, replace=n_rows > 3000)
    rows[: min(3, n_rows)] = 2999  # repeats and the last row
    got = gather_rows(array, rows)
    assert got.dtype == np.float16 and got.shape == (n_rows, 12)
    np.testing.assert_array_equal(got, whole[rows])


def test_out_of_range_rows_are_refused(stores):
    _, plain, sharded = stores
    with pytest.raises(IndexError):
        gather_rows(sharded, np.arange(2990, 3300))
    with pytest.raises(IndexError):
        gather_rows(plain, [3000])


@pytest.mark.parametrize("memory, advice", [(10**12, "willneed"), (1000, "random")])
def test_stores_that_fit_in_memory_are_prefetched_larger_ones_read_at_random(stores, memory, advice):
    whole, plain, sharded = stores
    for array in (plain, sharded):
        assert prepare_for_scattered_reads(array, memory_bytes=memory) == advice
        rows = np.random.default_rng(1).choice(3000, size=700, replace=False)
        np.testing.assert_array_equal(gather_rows(array, rows), whole[rows])
    assert prepare_for_scattered_reads(whole, memory_bytes=memory) == "none"
