"""Nearest images of an item by one generator (Faiss inner product), the item itself excluded."""

from __future__ import annotations

import logging

import numpy as np

from dkmap.data.store import image_space

log = logging.getLogger(__name__)


def faiss_index(reg, dataset: str, generator: str):
    """The Faiss index over `generator`'s image embeddings: the build's file, else built in memory."""
    from dkmap import similarity

    ds = reg.dataset(dataset)
    reg.require_generator(ds, dataset, generator)
    space = image_space(generator)

    def load():
        path = ds.root / "index" / f"{space}.faiss"
        if path.is_file():
            return similarity.load(path)
        log.warning("no index file %s: building an in-memory index", path)
        return similarity.build_index(ds.embedding(space))

    return reg.once(("faiss", dataset, generator), load)


def nearest(reg, dataset: str, generator: str, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the k images nearest to `row`'s image by `generator`, itself excluded."""
    from dkmap import similarity

    ds = reg.dataset(dataset)
    index = faiss_index(reg, dataset, generator)
    query = np.asarray(ds.embedding(image_space(generator))[row:row + 1], dtype=np.float32)
    scores, ids = similarity.search(index, query, k + 1)
    keep = (ids[0] >= 0) & (ids[0] != row)
    return ids[0][keep][:k].astype(np.int64), scores[0][keep][:k]
