"""Faiss inner-product indexes over image embeddings, for "similar images" of an item.

Below `exact_max` items the index is exact (IndexFlatIP); above it an inverted-file index
(IVF, optionally with product quantisation) trained on a sample; its search breadth (nprobe) is
chosen at build time as the smallest reaching a recall@k target against exact search on held-out
queries (`choose_nprobe`), recorded with the recall it reached, and set again on load (`set_nprobe`).
An IVF index whose float32 vectors would pass FLAT_VECTORS_MAX_BYTES keeps them as 8-bit scalar
codes (a quarter of the memory, scores within ~1e-3 of exact), so 20M × 384 fits a 24 GB machine.
Vectors may be a memory-mapped or sharded store of any float dtype: they are read in chunks.
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
EXACT_CHUNK = 1_000_000   # rows per exact-search pass when the truth is computed over a large store
MAX_LISTS = 8192          # k-means training and list assignment cost O(n · lists): 20M rows stay ~10 min on 2 cores
FLAT_VECTORS_MAX_BYTES = 2 << 30
MMAP_MIN_BYTES = 1 << 30   # stored indexes this large are memory-mapped on load


def build_index(emb: np.ndarray, exact_max: int = 200_000, pq: bool = False, nprobe: int = 32,
                seed: int = 0) -> faiss.Index:
    """Index of the rows of `emb` (L2-normalised, so inner product = cosine); ids are row numbers.
    `emb` is read ADD_CHUNK rows at a time (a float16 store is never copied whole as float32)."""
    n, d = _shape(emb, "emb")
    sample = _as_float32(emb[training_rows(n, seed)], "sample") if n > exact_max else None
    index = empty_index(d, n, exact_max, pq, sample, nprobe)
    for start in range(0, n, ADD_CHUNK):
        index.add(_as_float32(emb[start:start + ADD_CHUNK], "emb"))
    return index


def _shape(a, name: str) -> tuple[int, int]:
    shape = tuple(getattr(a, "shape", np.shape(a)))
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array, got shape {shape}")
    return int(shape[0]), int(shape[1])


def scalar_codes(n: int, d: int) -> bool:
    """Whether an IVF index over n × d vectors stores 8-bit codes instead of float32 vectors."""
    return n * d * 4 > FLAT_VECTORS_MAX_BYTES


def index_bytes(n: int, d: int, exact_max: int = 200_000, pq: bool = False) -> int:
    """Memory the index `build_index` makes for n × d vectors holds (vectors or codes and ids)."""
    if n <= exact_max:
        return n * d * 4
    if pq:
        return n * (_pq_subquantisers(d) + 8)
    return n * ((d if scalar_codes(n, d) else 4 * d) + 8)


def _pq_subquantisers(d: int) -> int:
    return next(m for m in (64, 48, 32, 16, 8, 4, 2, 1) if d % m == 0 and d // m >= 4 or m == 1)


def empty_index(d: int, n: int, exact_max: int, pq: bool, sample: np.ndarray | None,
                nprobe: int = 32) -> faiss.Index:
    """The trained, empty index `build_index` fills for n items of dimension d: IndexFlatIP up to
    exact_max items, else IVF (PQ when asked, 8-bit scalar codes when float32 vectors would pass
    FLAT_VECTORS_MAX_BYTES) trained on `sample` (the rows `training_rows` names)."""
    if n <= exact_max:
        return faiss.IndexFlatIP(d)
    if sample is None:
        raise ValueError(f"an IVF index over {n} items (> exact_max {exact_max}) needs a training sample")
    nlist = n_lists(n)
    quantiser = faiss.IndexFlatIP(d)
    if pq:
        index = faiss.IndexIVFPQ(quantiser, d, nlist, _pq_subquantisers(d), 8, faiss.METRIC_INNER_PRODUCT)
    elif scalar_codes(n, d):
        index = faiss.IndexIVFScalarQuantizer(quantiser, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantiser, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(_as_float32(sample, "sample"))
    index.nprobe = min(nprobe, nlist)
    return index


def n_lists(n: int) -> int:
    """Inverted lists of an IVF index over n items (≈ 4√n, at most MAX_LISTS)."""
    return int(min(MAX_LISTS, max(16, 4 * np.sqrt(n))))


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
    qi = recall_queries(_shape(emb, "emb")[0], n_queries, seed)
    q = _rows(emb, qi)
    return recall(exact_neighbours(emb, q, k), search(index, q, k)[1])


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
    """The index stored at `path`; one of MMAP_MIN_BYTES or more is memory-mapped read-only, so its
    vectors are file pages the kernel can drop, not process memory (20M prompts' 7.3 GiB of codes
    beside a 20M map's server otherwise passed a 24 GB machine). Safe because `save` replaces a file
    by rename, never in place: a mapping keeps the file it was made from."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Faiss index at {path}")
    if maps_on_load(path):
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    return faiss.read_index(str(path))


def maps_on_load(path: str | os.PathLike) -> bool:
    """Whether `load` memory-maps the index stored at `path` (MMAP_MIN_BYTES or more)."""
    return Path(path).stat().st_size >= MMAP_MIN_BYTES


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
    n, _ = _shape(vectors, "vectors")
    qi = recall_queries(n, n_queries, seed)
    q = _rows(vectors, qi)
    mid = midpoint_queries(vectors, n_queries, seed + 1) if novel else np.zeros((0, q.shape[1]), np.float32)
    truth = exact_neighbours(vectors, np.concatenate([q, mid]), k + 1)   # one pass over the rows for both
    held_out = without_self(truth[:len(q)], qi, k)
    nprobe, reached = nprobe_for_recall(index, q, qi, held_out, target_recall)
    if not novel:
        return nprobe, reached
    none = np.full(len(mid), -1, dtype=np.int64)
    truth = truth[len(q):, :k]
    between, reached_between = nprobe_for_recall(index, mid, none, truth, target_recall)
    if between > nprobe:
        nprobe = between
    else:
        reached_between = measure_at(index, nprobe, mid, truth)
    return nprobe, float(min(reached, reached_between))


def _rows(x, rows: np.ndarray) -> np.ndarray:
    """float32 copies of `rows` of a store (read in sorted order, returned in the order asked)."""
    rows = np.asarray(rows)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), _shape(x, "vectors")[1]), dtype=np.float32)
    out[order] = np.asarray(x[rows[order]], dtype=np.float32)
    return out


def exact_neighbours(x, queries: np.ndarray, k: int) -> np.ndarray:
    """ids (n_queries, k) of the k rows of `x` with the largest inner product with each query, best
    first: exact search EXACT_CHUNK rows at a time, so a store larger than memory can be the truth."""
    q = _as_float32(queries, "queries")
    n, d = _shape(x, "vectors")
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, n, EXACT_CHUNK):
        part = faiss.IndexFlatIP(d)
        for sub in range(start, min(start + EXACT_CHUNK, n), ADD_CHUNK):
            part.add(_as_float32(x[sub:min(sub + ADD_CHUNK, start + EXACT_CHUNK, n)], "vectors"))
        scores, ids = part.search(q, min(k, part.ntotal))
        best_s = np.concatenate([best_s, scores], axis=1)
        best_i = np.concatenate([best_i, ids + start], axis=1)
        # stable on ties, so equal scores keep the lower row first as one exact search does
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def midpoint_queries(x, n_queries: int, seed: int) -> np.ndarray:
    """Unit-norm midpoints of `n_queries` seeded random pairs of rows of `x` (queries unlike any row)."""
    rng = np.random.default_rng(seed)
    n = _shape(x, "vectors")[0]
    mid = _rows(x, rng.integers(0, n, n_queries)) + _rows(x, rng.integers(0, n, n_queries))
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
    return without_self(exact_neighbours(x, _rows(x, qi), k + 1), qi, k)


def without_self(ids: np.ndarray, qi: np.ndarray, k: int) -> np.ndarray:
    """The first k ids of each row other than the query's own row (−1 padded)."""
    out = np.full((len(qi), k), -1, dtype=np.int64)
    for i, (row, q) in enumerate(zip(ids, qi)):
        kept = row[row != q][:k]
        out[i, :len(kept)] = kept
    return out
