"""Search by meaning: the query's MiniLM embedding against the stored `minilm` space through Faiss.

The index is built on first use (dkmap.similarity: exact for small sets, IVF above them with the
nprobe chosen for recall@10 ≥ 0.95 on held-out rows and on new vectors between them, since a query
typed in the search box is none of the rows).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from dkmap import similarity
from dkmap.atomic import read_json, write_json

log = logging.getLogger(__name__)

SPACE = "minilm"
MAX_RESULTS = 10_000   # nearest prompts a semantic query ranks; count and threshold cover these


@dataclass(frozen=True)
class SemanticHits:
    """Rows (int64) and cosine similarities (float32) of the nearest prompts at or above `min_score`,
    best first; `capped` when MAX_RESULTS were ranked and more may pass the threshold."""

    rows: np.ndarray
    scores: np.ndarray
    capped: bool


class SemanticIndex:
    """A Faiss inner-product index over the dataset's `minilm` rows and the nprobe it searches with."""

    def __init__(self, index: faiss.Index, nprobe: int | None, recall: float):
        self.index = similarity.set_nprobe(index, nprobe)
        self.nprobe, self.recall = nprobe, recall
        self.n = int(index.ntotal)

    def search(self, vector: np.ndarray, min_score: float = -1.0, max_results: int = MAX_RESULTS) -> SemanticHits:
        """The nearest rows to `vector` (unit norm), best first, down to similarity `min_score`."""
        k = int(min(max_results, self.n))
        scores, ids = similarity.search(self.index, np.asarray(vector, dtype=np.float32)[None], k)
        keep = (ids[0] >= 0) & (scores[0] >= min_score)
        capped = bool(k < self.n and keep.all())
        return SemanticHits(ids[0][keep].astype(np.int64), scores[0][keep], capped)


EXACT_MAX = 200_000


def build_semantic_index(emb: np.ndarray, exact_max: int = EXACT_MAX, seed: int = 0) -> SemanticIndex:
    """An in-memory index over `emb` (the `minilm` rows, any float store, read in chunks), its nprobe
    chosen for recall@10 ≥ 0.95."""
    index = similarity.build_index(emb, exact_max=exact_max, seed=seed)
    nprobe, recall = similarity.choose_nprobe(index, emb, novel=True)
    return SemanticIndex(index, nprobe, recall)


def index_paths(dataset_dir: str | os.PathLike) -> tuple[Path, Path]:
    """DATASET/search/semantic.faiss and its record semantic.json (what it was built from, its nprobe)."""
    folder = Path(dataset_dir) / "search"
    return folder / "semantic.faiss", folder / "semantic.json"


def fingerprint(dataset_dir: str | os.PathLike, meta: dict) -> str:
    """What the index depends on: the `minilm` rows' checksum, as the build's image indexes have it."""
    from dkmap.builder.reuse import embedding_checksum

    return f"embeddings/{SPACE}.npy:" + embedding_checksum(Path(dataset_dir), meta, SPACE)


def open_semantic_index(ds, max_bytes: int | None = None) -> SemanticIndex:
    """The dataset's semantic index: read from DATASET/search/ when it was built from the same `minilm`
    rows, else built in memory (choosing its nprobe costs about a minute at 1M rows) and stored there
    atomically for the next process; a read-only dataset folder keeps it in memory only.
    `max_bytes`: the most the index may take in memory (its vectors, or 8-bit codes above
    similarity.FLAT_VECTORS_MAX_BYTES: 20M prompts take 7.3 GiB); a larger dataset raises Unavailable
    saying so, instead of a process that runs out of memory."""
    from dkmap.errors import Unavailable

    rows = ds.embedding(SPACE)
    n = int(rows.shape[0])
    need = similarity.index_bytes(n, int(rows.shape[1]), EXACT_MAX)
    if max_bytes is not None and need > max_bytes:
        raise Unavailable(f"search by meaning over {n:,} prompts needs {_size(need)} of index in "
                          f"memory, above this server's SEMANTIC_INDEX_MAX_BYTES ({_size(max_bytes)}); search "
                          "by words works")
    stamp = fingerprint(ds.root, ds.meta)
    path, record = index_paths(ds.root)
    stored = read_json(record)
    if stored.get("fingerprint") == stamp and stored.get("n") == n and path.is_file():
        try:
            index = similarity.load(path)
        except RuntimeError as exc:  # a damaged file: built again below
            log.warning("semantic index %s unreadable (%s): building it again", path, exc)
        else:
            if int(index.ntotal) == n:
                return SemanticIndex(index, stored.get("nprobe"), float(stored.get("recall_at_10", 1.0)))
    built = build_semantic_index(rows)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        similarity.save(built.index, path)
        write_json(record, {"format": 1, "fingerprint": stamp, "n": n, "nprobe": built.nprobe,
                            "recall_at_10": built.recall})
    except OSError as exc:
        log.warning("cannot store the semantic index in %s (%s): kept in memory", path.parent, exc)
        return built
    if not similarity.maps_on_load(path):
        return built
    # a large index read back memory-mapped, as a later process reads it, and the built copy let go
    return SemanticIndex(similarity.load(path), built.nprobe, built.recall)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"
