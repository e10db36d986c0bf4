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


def build_index(emb: np.ndarray, exact_max: int = 200_000, pq: bool = False, nprobe: int = 32,
                seed: int = 0) -> faiss.Index:
    """Index of the rows of `emb` (L2-normalised, so inner product = cosine); ids are row numbers."""
    x = _as_float32(emb, "emb")
    n, d = x.shape
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
        index.add(x)
        return index
    nlist = int(min(65536, max(16, 4 * np.sqrt(n))))
    quantiser = faiss.IndexFlatIP(d)
    if pq:
        m = next(m for m in (64, 48, 32, 16, 8, 4, 2, 1) if d % m == 0 and d // m >= 4 or m == 1)
        index = faiss.IndexIVFPQ(quantiser, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantiser, d, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    n_train = min(n, TRAIN_PER_LIST * nlist)
    sample = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else np.arange(n)
    index.train(_as_float32(x[sample], "emb"))
    for start in range(0, n, 100_000):
        index.add(x[start:start + 100_000])
    index.nprobe = min(nprobe, nlist)
    return index


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
    rng = np.random.default_rng(seed)
    qi = rng.choice(len(x), size=min(n_queries, len(x)), replace=False)
    exact = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), 100_000):
        exact.add(x[start:start + 100_000])
    _, truth = exact.search(x[qi], k)
    _, got = search(index, x[qi], k)
    hits = sum(len(set(t) & set(g)) for t, g in zip(truth, got))
    return hits / truth.size


def save(index: faiss.Index, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so a reader never sees half an index."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


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
