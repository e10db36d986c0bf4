"""Faiss inner-product indexes over image embeddings, for "similar images" of an item.

Below `exact_max` items the index is exact (IndexFlatIP); above it an inverted-file index
(IVF, optionally with product quantisation) trained on a sample; its search breadth (nprobe) is
chosen at build time as the smallest reaching a recall@k target against exact search on held-out
queries (`choose_nprobe`), recorded with the recall it reached, and set again on load (`set_nprobe`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

TRAIN_PER_LIST = 64   # training points per inverted list (faiss warns below ~39)
ADD_CHUNK = 100_000


def build_index(emb: np.ndarray, exact_max: int = 200_000, pq: bool = False, nprobe: int = 32,
                seed: int = 0) -> faiss.Index:
    """Index of the rows of `emb` (L2-normalised, so inner product = cosine); ids are row numbers."""
    x = _as_float32(emb, "emb")
    n, d = x.shape
    sample = x[training_rows(n, seed)] if n > exact_max else None
    index = empty_index(d, n, exact_max, pq, sample, nprobe)
    for start in range(0, n, ADD_CHUNK):
        index.add(x[start:start + ADD_CHUNK])
    return index


def empty_index(d: int, n: int, exact_max: int, pq: bool, sample: np.ndarray | None,
                nprobe: int = 32) -> faiss.Index:
    """The trained, empty index `build_index` fills for n items of dimension d: IndexFlatIP up to
    exact_max items, else IVF (optionally PQ) trained on `sample` (the rows `training_rows` names)."""
    if n <= exact_max:
        return faiss.IndexFlatIP(d)
    if sample is None:
        raise ValueError(f"an IVF index over {n} items (> exact_max {exact_max}) needs a training sample")
    nlist = n_lists(n)
    quantiser = faiss.IndexFlatIP(d)
    if pq:
        m = next(m for m in (64, 48, 32, 16, 8, 4, 2, 1) if d % m == 0 and d // m >= 4 or m == 1)
        index = faiss.IndexIVFPQ(quantiser, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantiser, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(_as_float32(sample, "sample"))
    index.nprobe = min(nprobe, nlist)
    return index


def n_lists(n: int) -> int:
    """Inverted lists of an IVF index over n items (≈ 4√n)."""
    return int(min(65536, max(16, 4 * np.sqrt(n))))


def training_rows(n: int, seed: int) -> np.ndarray:
    """Sorted rows of the seeded sample an IVF index over n items is trained on."""
    n_train = min(n, TRAIN_PER_LIST * n_lists(n))
    if n_train == n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=n_train, replace=False))


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids), each (n_queries, k), best first; ids −1 where fewer than k items exist."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    q = _as_float32(queries, "queries")
    if q.shape[1] != index.d:
        raise ValueError(f"queries have dimension {q.shape[1]}, the index has {index.d}")
    scores, ids = index.search(q, k)
    return scores, ids


def measure_recall(index: faiss.Index, emb: np.ndarray, k: int = 10, n_queries: int = 500,
                   seed: int = 0) -> float:
    """recall@k of `index` against exact inner-product search, on random items as queries."""
    x = _as_float32(emb, "emb")
    qi = recall_queries(len(x), n_queries, seed)
    exact = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), ADD_CHUNK):
        exact.add(x[start:start + ADD_CHUNK])
    _, truth = exact.search(x[qi], k)
    return recall(truth, search(index, x[qi], k)[1])


def recall_queries(n: int, n_queries: int, seed: int) -> np.ndarray:
    """Rows used as queries by `measure_recall` (a seeded sample of at most n_queries)."""
    return np.random.default_rng(seed).choice(n, size=min(n_queries, n), replace=False)


def recall(truth: np.ndarray, got: np.ndarray) -> float:
    """Fraction of the true top-k ids (per query row) that `got` also returns."""
    return sum(len(set(t) & set(g)) for t, g in zip(truth, got)) / truth.size


def save(index: faiss.Index, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so a reader never sees half an index."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        faiss.write_index(index, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | os.PathLike) -> faiss.Index:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Faiss index at {path}")
    return faiss.read_index(str(path))


def _as_float32(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def choose_nprobe(index: faiss.Index, vectors: np.ndarray, target_recall: float = 0.95, k: int = 10,
                  n_queries: int = 500, seed: int = 1, novel: bool = False) -> tuple[int | None, float]:
    """The smallest search breadth (IVF nprobe) at which `index` over the rows of `vectors` reaches
    recall@k ≥ `target_recall` against exact search, and the recall it reaches; `index.nprobe` is
    left set to it. The queries are a seeded sample of rows, each held out of its own answer (the
    item itself is not counted as its neighbour): what an item's similar images ask. `novel`: the
    queries of a search box are new vectors, which fall between the data's clusters where a held-out
    row sits inside its own list (a prompt repeated for many generators makes that list answer
    alone), so the breadth must also reach the target for normalised midpoints of two random rows;
    the larger breadth and the lower recall are returned. An exact index answers (None, 1.0); an IVF
    index that cannot reach the target even probing every list answers (nlist, its recall)."""
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall!r}")
    if _ivf(index) is None:
        return None, 1.0
    x = _as_float32(vectors, "vectors")
    qi = recall_queries(len(x), n_queries, seed)
    exact = _exact_index(x)
    held_out = without_self(exact.search(x[qi], k + 1)[1], qi, k)
    nprobe, reached = nprobe_for_recall(index, x[qi], qi, held_out, target_recall)
    if not novel:
        return nprobe, reached
    mid = midpoint_queries(x, n_queries, seed + 1)
    none = np.full(len(mid), -1, dtype=np.int64)
    truth = exact.search(mid, k)[1]
    between, reached_between = nprobe_for_recall(index, mid, none, truth, target_recall)
    if between > nprobe:
        nprobe = between
    else:
        reached_between = measure_at(index, nprobe, mid, truth)
    return nprobe, float(min(reached, reached_between))


def midpoint_queries(x: np.ndarray, n_queries: int, seed: int) -> np.ndarray:
    """Unit-norm midpoints of `n_queries` seeded random pairs of rows of `x` (queries unlike any row)."""
    rng = np.random.default_rng(seed)
    mid = x[rng.integers(0, len(x), n_queries)] + x[rng.integers(0, len(x), n_queries)]
    norms = np.linalg.norm(mid, axis=1, keepdims=True)
    return (mid / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def measure_at(index: faiss.Index, nprobe: int, queries: np.ndarray, truth: np.ndarray) -> float:
    """Recall@k of `index` searching `nprobe` lists for `queries` against their true answers."""
    set_nprobe(index, nprobe)
    _, got = index.search(_as_float32(queries, "queries"), truth.shape[1])
    return recall(truth, got)


def nprobe_for_recall(index: faiss.Index, queries: np.ndarray, query_rows: np.ndarray, truth: np.ndarray,
                      target_recall: float = 0.95) -> tuple[int | None, float]:
    """`choose_nprobe` given the held-out queries (the vectors of rows `query_rows`) and their true
    k nearest rows other than themselves (`truth`, one row per query): for an engine that computes
    the exact answer itself, e.g. partition by partition."""
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall!r}")
    ivf = _ivf(index)
    if ivf is None:
        return None, 1.0
    q = _as_float32(queries, "queries")
    query_rows = np.asarray(query_rows)
    k = truth.shape[1]

    def recall_at(nprobe: int) -> float:
        ivf.nprobe = nprobe
        _, got = index.search(q, k + 1)
        return recall(truth, without_self(got, query_rows, k))

    nlist = int(ivf.nlist)
    lo, hi, hi_recall = 0, 1, recall_at(1)
    while hi_recall < target_recall and hi < nlist:   # doubling: the first breadth that is enough
        lo, hi = hi, min(2 * hi, nlist)
        hi_recall = recall_at(hi)
    while hi - lo > 1:                                 # then the smallest one, by bisection
        mid = (lo + hi) // 2
        r = recall_at(mid)
        if r >= target_recall:
            hi, hi_recall = mid, r
        else:
            lo = mid
    ivf.nprobe = hi
    if hi_recall < target_recall:
        log.warning("recall@%d %.3f < %.2f even probing all %d lists", k, hi_recall, target_recall, nlist)
    log.info("nprobe %d of %d lists: recall@%d %.3f on %d held-out queries", hi, nlist, k, hi_recall, len(q))
    return hi, float(hi_recall)


def _ivf(index: faiss.Index):
    """The inverted-file part of `index`, None for an exact (flat) index."""
    return None if isinstance(index, faiss.IndexFlat) else faiss.try_extract_index_ivf(index)


def set_nprobe(index: faiss.Index, nprobe: int | None) -> faiss.Index:
    """`index` searching `nprobe` lists (an IVF index; None or an exact index: unchanged)."""
    if nprobe is not None:
        ivf = _ivf(index)
        if ivf is not None:
            ivf.nprobe = int(min(nprobe, ivf.nlist))
    return index


def _exact_neighbours(x: np.ndarray, qi: np.ndarray, k: int) -> np.ndarray:
    """The true k nearest rows (inner product) of rows `qi` of `x`, each query row itself left out."""
    return without_self(_exact_index(x).search(x[qi], k + 1)[1], qi, k)


def _exact_index(x: np.ndarray) -> faiss.IndexFlatIP:
    """An exact inner-product index over the rows of `x` (the truth recall is measured against)."""
    exact = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), ADD_CHUNK):
        exact.add(x[start:start + ADD_CHUNK])
    return exact


def without_self(ids: np.ndarray, qi: np.ndarray, k: int) -> np.ndarray:
    """The first k ids of each row other than the query's own row (−1 padded)."""
    out = np.full((len(qi), k), -1, dtype=np.int64)
    for i, (row, q) in enumerate(zip(ids, qi)):
        kept = row[row != q][:k]
        out[i, :len(kept)] = kept
    return out
