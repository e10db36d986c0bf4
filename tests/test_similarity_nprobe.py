"""dkmap.similarity.choose_nprobe: the smallest IVF breadth reaching the recall target."""

from __future__ import annotations

import faiss
import numpy as np

from dkmap import similarity


def _clustered(n=6000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    x = centres[rng.integers(40, size=n)] + 0.8 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_reaches_the_target_and_one_list_less_does_not():
    x = _clustered()
    index = similarity.build_index(x, exact_max=1000)
    nprobe, recall = similarity.choose_nprobe(index, x, target_recall=0.95, n_queries=300)
    assert recall >= 0.95 and faiss.extract_index_ivf(index).nprobe == nprobe
    assert nprobe > 1   # this data needs more than one list, so the bound below is tested
    lower, _ = similarity.choose_nprobe(index, x, target_recall=1.0 - 1e-9, n_queries=300)
    faiss.extract_index_ivf(index).nprobe = nprobe - 1
    _, got = index.search(x[similarity.recall_queries(len(x), 300, 1)], 11)
    truth = similarity._exact_neighbours(x, similarity.recall_queries(len(x), 300, 1), 10)
    below = similarity.recall(truth, similarity.without_self(got, similarity.recall_queries(len(x), 300, 1), 10))
    assert below < 0.95 and lower >= nprobe


def test_an_exact_index_needs_no_breadth():
    x = _clustered(500)
    assert similarity.choose_nprobe(similarity.build_index(x), x) == (None, 1.0)
