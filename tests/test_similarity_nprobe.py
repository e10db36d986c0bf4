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


def _repeated_prompts(seed=0, d=24, n_prompts=300, copies=30):
    """Rows that repeat each of n_prompts clustered 'prompts' ~copies times with a little jitter (one
    prompt given to many generators), and 200 new prompts of the same kind as search queries."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))

    def prompts(n):
        p = centres[rng.integers(20, size=n)] + 0.9 * rng.normal(size=(n, d))
        return p / np.linalg.norm(p, axis=1, keepdims=True)

    base = prompts(n_prompts)
    rows = base[rng.integers(n_prompts, size=n_prompts * copies)] + 0.1 * rng.normal(size=(n_prompts * copies, d)) / np.sqrt(d)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32), prompts(200).astype(np.float32)


def _recall_of(index, x, queries, nprobe):
    exact = faiss.IndexFlatIP(x.shape[1])
    exact.add(x)
    similarity.set_nprobe(index, nprobe)
    return similarity.recall(exact.search(queries, 10)[1], index.search(queries, 10)[1])


def test_novel_queries_get_the_breadth_that_new_vectors_need():
    x, new_prompts = _repeated_prompts()
    index = similarity.build_index(x, exact_max=1000)
    own, own_recall = similarity.choose_nprobe(index, x, n_queries=300)
    # Held-out rows find their copies in their own list: a narrow breadth looks enough ...
    assert own_recall >= 0.95 and _recall_of(index, x, new_prompts, own) < 0.93
    # ... for new prompts it is not; the novel choice probes wider and reaches the target for them.
    novel, novel_recall = similarity.choose_nprobe(index, x, n_queries=300, novel=True)
    assert novel > own and novel_recall >= 0.95 and faiss.extract_index_ivf(index).nprobe == novel
    assert _recall_of(index, x, new_prompts, novel) >= 0.95


def test_exact_neighbours_in_chunks_equal_one_exact_search(monkeypatch):
    x = _clustered(3000, 24, seed=5)
    q = _clustered(50, 24, seed=6)
    one = faiss.IndexFlatIP(24)
    one.add(x)
    _, want = one.search(q, 10)
    monkeypatch.setattr(similarity, "EXACT_CHUNK", 700)   # 5 passes, the last one short
    monkeypatch.setattr(similarity, "ADD_CHUNK", 300)
    got = similarity.exact_neighbours(x, q, 10)
    assert got.shape == (50, 10)
    assert similarity.recall(want, got) == 1.0


def test_large_indexes_keep_8_bit_codes_and_still_reach_the_target(monkeypatch):
    """Above FLAT_VECTORS_MAX_BYTES of float32 vectors (2 GiB; 6,000 × 16 here) the IVF lists hold
    8-bit scalar codes: a quarter of the memory, the recall target still reached, scores near exact."""
    x = _clustered()
    monkeypatch.setattr(similarity, "FLAT_VECTORS_MAX_BYTES", x.size * 4 - 1)
    index = similarity.build_index(x.astype(np.float16), exact_max=1000)   # a float16 store, read in chunks
    assert isinstance(index, faiss.IndexIVFScalarQuantizer)
    assert similarity.index_bytes(len(x), 16, 1000) == len(x) * (16 + 8)
    nprobe, recall = similarity.choose_nprobe(index, x, target_recall=0.95, n_queries=300)
    assert recall >= 0.95
    scores, ids = index.search(x[:20], 5)
    exact = np.einsum("qd,qkd->qk", x[:20], x[ids])
    np.testing.assert_allclose(scores, exact, atol=0.02)
    monkeypatch.setattr(similarity, "FLAT_VECTORS_MAX_BYTES", x.size * 4)
    assert isinstance(similarity.build_index(x, exact_max=1000), faiss.IndexIVFFlat)


def test_list_count_grows_as_the_root_and_stops_at_the_cap():
    assert similarity.n_lists(1_000_000) == 4000
    assert similarity.n_lists(20_000_000) == similarity.MAX_LISTS == 8192
    assert similarity.n_lists(100) == 40 and similarity.n_lists(4) == 16
