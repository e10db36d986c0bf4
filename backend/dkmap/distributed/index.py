"""Faiss inner-product indexes over image embeddings, filled partition by partition on Dask workers.

The driver makes the empty index `dkmap.similarity.build_index` would fill (`similarity.empty_index`,
trained on the same seeded `similarity.training_rows`); each partition adds its rows to a copy
and returns it serialised; the driver merges the copies in row order, so index id = dataset row.
An IVF index's nprobe is chosen as the local engine chooses it (`similarity.nprobe_for_recall`), the
exact neighbours of the held-out queries found partition by partition.
"""

from __future__ import annotations

import logging
import time
from itertools import chain
from typing import Callable, Iterable, Iterator

import faiss
import numpy as np
from distributed import Client, Future, as_completed

from dkmap import similarity
from dkmap.config import BuildSettings
from dkmap.distributed.reduction import RETRIES, identity
from dkmap.distributed.partitions import Partition, PartitionedDataset

log = logging.getLogger(__name__)

RECALL_K = 10
RECALL_QUERIES = 500


def fill(empty: bytes, vectors: np.ndarray) -> bytes:
    """The empty index with one partition's vectors added, serialised."""
    faiss.omp_set_num_threads(1)
    index = faiss.deserialize_index(np.frombuffer(empty, dtype=np.uint8))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return faiss.serialize_index(index).tobytes()


def merge(shards: Iterable[bytes], total: int | None = None) -> faiss.Index:
    """Concatenate filled shards in row order (consumed one at a time). With `total` (the rows of all
    shards), flat shards are copied into one buffer allocated up front: growing the index shard by
    shard reallocates, and the copy at a late growth needs up to twice the index at once."""
    shards = iter(shards)
    first = next(shards, None)
    if first is None:
        raise ValueError("merge needs at least one index shard")
    index = faiss.deserialize_index(np.frombuffer(first, dtype=np.uint8))
    if total is not None and isinstance(index, faiss.IndexFlatCodes):
        return _concatenate_flat(index, shards, total)
    for blob in shards:
        other = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        # IVF lists store ids (shift the shard's by the rows before it); flat codes are positional
        index.merge_from(other, 0 if isinstance(index, faiss.IndexFlatCodes) else index.ntotal)
    return index


def _concatenate_flat(first: faiss.IndexFlatCodes, rest: Iterator[bytes], total: int) -> faiss.Index:
    """`first` and the flat shards of `rest`, copied into one index holding exactly `total` rows."""
    index = faiss.clone_index(first)
    index.reset()
    index.codes.resize(total * index.code_size)
    buffer = faiss.rev_swig_ptr(index.codes.data(), total * index.code_size)
    rows = 0
    # one shard deserialised at a time (a tuple of all of them would hold the whole index twice)
    for shard in chain([first], (faiss.deserialize_index(np.frombuffer(b, dtype=np.uint8)) for b in rest)):
        if rows + shard.ntotal > total:
            raise ValueError(f"index shards hold more than the {total} rows announced")
        start, end = rows * index.code_size, (rows + shard.ntotal) * index.code_size
        buffer[start:end] = faiss.vector_to_array(shard.codes)
        rows += shard.ntotal
    if rows != total:
        raise ValueError(f"index shards hold {rows} rows, {total} were announced")
    index.ntotal = total
    return index


def in_order_as_completed(futures: list[Future]) -> Iterator:
    """The futures' results in list order, each fetched as soon as it is done and then released, so
    workers hold only results not yet fetched (all of them at once overflowed worker memory at 20M)."""
    place = {f.key: i for i, f in enumerate(futures)}
    ready: dict[int, object] = {}
    following = 0
    for future in as_completed(futures):
        ready[place[future.key]] = future.result()
        future.release()
        while following in ready:
            yield ready.pop(following)
            following += 1


def exact_topk(queries: np.ndarray, vectors: np.ndarray, start: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k best rows of one partition for each query, ids as dataset rows."""
    scores = queries @ np.asarray(vectors, dtype=np.float32).T
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(scores, top, axis=1), top + start


def index_builder(client: Client, source: PartitionedDataset, sources: list[Future],
                  settings: BuildSettings) -> Callable[[str], tuple[faiss.Index, int | None, float]]:
    """build(space) -> (index, nprobe, recall@10) for the build's index stage
    (`dkmap.builder.indexes`), the index filled on the workers: the same index the local engine
    builds, searching as many lists as it would."""
    token = f"{source.name}-{time.monotonic_ns()}"

    def build(space: str) -> tuple[faiss.Index, int | None, float]:
        n = source.n
        sample = None
        if n > settings.index_exact_max:
            sample = _gather_rows(client, source, sources, space, similarity.training_rows(n, settings.seed),
                                  token)
        dim = int(source.embedding(source.partitions[0], space).shape[1])
        empty = client.submit(identity, faiss.serialize_index(similarity.empty_index(
            dim, n, settings.index_exact_max, settings.index_pq, sample)).tobytes(),
            key=f"faiss-empty-{token}-{space}")
        # keys name the space: a key already computed for another space would be reused as is
        shards = [client.submit(_fill_part, src, p, space, empty, retries=RETRIES,
                                key=f"faiss-{token}-{space}-{p.index}")
                  for src, p in zip(sources, source.partitions)]
        index = merge(in_order_as_completed(shards), n)
        del shards
        if isinstance(index, faiss.IndexFlat):
            return index, None, 1.0
        qi = similarity.recall_queries(n, RECALL_QUERIES, settings.seed + 1)
        q, truth = _exact_neighbours(client, source, sources, space, qi, token)
        nprobe, recall = similarity.nprobe_for_recall(index, q, qi, truth, settings.index_target_recall)
        return index, nprobe, recall

    return build


def _exact_neighbours(client: Client, source: PartitionedDataset, sources: list[Future], space: str,
                      qi: np.ndarray, token: str) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of rows `qi` and their true RECALL_K nearest rows other than themselves, from an
    exact search of every partition (as `similarity.choose_nprobe` finds them in memory)."""
    q = _gather_rows(client, source, sources, space, qi, token + "-q")
    qf = client.submit(identity, q, key=f"queries-{token}-{space}")
    parts = [client.submit(_topk_part, src, p, space, qf, RECALL_K + 1, retries=RETRIES,
                           key=f"topk-{token}-{space}-{p.index}")
             for src, p in zip(sources, source.partitions)]
    scores, ids = zip(*client.gather(parts))
    scores, ids = np.concatenate(scores, axis=1), np.concatenate(ids, axis=1)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :RECALL_K + 1]
    return q, similarity.without_self(np.take_along_axis(ids, best, axis=1), qi, RECALL_K)


def _gather_rows(client: Client, source: PartitionedDataset, sources: list[Future], space: str,
                 rows: np.ndarray, token: str) -> np.ndarray:
    """Rows `rows` (any order) of embedding `space`, float32, fetched from their partitions."""
    starts = np.array([p.start for p in source.partitions])
    owner = np.searchsorted(starts, rows, side="right") - 1
    futures = [client.submit(_take_part, src, p, space, rows[owner == p.index], retries=RETRIES,
                             key=f"rows-{space}-{token}-{p.index}")
               for src, p in zip(sources, source.partitions)]
    gathered = np.concatenate(client.gather(futures))
    out = np.empty_like(gathered)
    out[np.concatenate([np.flatnonzero(owner == p.index) for p in source.partitions])] = gathered
    return out


def _take_part(source: PartitionedDataset, part: Partition, space: str, rows: np.ndarray) -> np.ndarray:
    return np.asarray(source.embedding(part, space), dtype=np.float32)[rows - part.start]


def _fill_part(source: PartitionedDataset, part: Partition, space: str, empty: bytes) -> bytes:
    return fill(empty, source.embedding(part, space))


def _topk_part(source: PartitionedDataset, part: Partition, space: str, queries: np.ndarray, k: int):
    return exact_topk(queries, source.embedding(part, space), part.start, k)
