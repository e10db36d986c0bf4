"""Faiss indexes: exact below the threshold, IVF above with measured recall; save/load round trip."""

import faiss
import numpy as np
import pytest

from dkmap import similarity


@pytest.fixture(scope="module")
def emb():
    rng = np.random.default_rng(6)
    centres = rng.normal(size=(50, 32))
    x = centres[rng.integers(0, 50, 6000)] + rng.normal(size=(6000, 32)) * 0.4
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_index_finds_the_true_neighbours(emb):
    index = similarity.build_index(emb, exact_max=10_000)
    assert isinstance(index, faiss.IndexFlatIP)
    scores, ids = similarity.search(index, emb[:5], k=4)
    assert np.array_equal(ids[:, 0], np.arange(5))
    truth = np.argsort(-(emb[:5] @ emb.T), axis=1)[:, :4]
    assert np.array_equal(np.sort(ids, 1), np.sort(truth, 1))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("pq", [False, True])
def test_ivf_index_above_threshold_has_good_recall(emb, pq):
    index = similarity.build_index(emb, exact_max=1000, pq=pq)
    assert isinstance(index, faiss.IndexIVF)
    recall = similarity.measure_recall(index, emb, k=10, n_queries=200)
    assert recall >= (0.5 if pq else 0.95)


def test_save_load_round_trip(emb, tmp_path):
    index = similarity.build_index(emb, exact_max=10_000)
    similarity.save(index, tmp_path / "image_a.faiss")
    again = similarity.load(tmp_path / "image_a.faiss")
    assert again.ntotal == len(emb)
    assert np.array_equal(similarity.search(again, emb[:3], 5)[1], similarity.search(index, emb[:3], 5)[1])
    with pytest.raises(FileNotFoundError):
        similarity.load(tmp_path / "missing.faiss")


def test_bad_search_arguments(emb):
    index = similarity.build_index(emb[:100])
    with pytest.raises(ValueError, match="dimension"):
        similarity.search(index, np.zeros((1, 5)), 3)
    with pytest.raises(ValueError, match="k must"):
        similarity.search(index, emb[:1], 0)


def test_a_large_stored_index_is_memory_mapped_and_answers_alike(emb, tmp_path, monkeypatch):
    """Indexes of MMAP_MIN_BYTES or more are read memory-mapped (file pages, not process memory):
    the same answers as the index in memory, and a file replaced by save() leaves the mapping valid."""
    index = similarity.build_index(emb, exact_max=10_000)
    path = tmp_path / "big.faiss"
    similarity.save(index, path)
    monkeypatch.setattr(similarity, "MMAP_MIN_BYTES", path.stat().st_size)
    mapped = similarity.load(path)
    want = similarity.search(index, emb[:10], 5)
    got = similarity.search(mapped, emb[:10], 5)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0])
    similarity.save(similarity.build_index(emb[::-1].copy(), exact_max=10_000), path)   # replaced by rename
    np.testing.assert_array_equal(similarity.search(mapped, emb[:10], 5)[1], want[1])
