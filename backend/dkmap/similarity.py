"""Faiss inner-product indexes over image embeddings, for "similar images" of an item.

Below `exact_max` items the index is exact (IndexFlatIP); above it an inverted-file index
(IVF, optionally with product quantisation) trained on a sample, whose recall@k against exact search
is measured at build time and recorded.
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
