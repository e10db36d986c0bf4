"""Nearest images of an item by one generator (Faiss inner product), the item itself excluded.

The index is the one a map build wrote into its folder (maps/<metric>/index/), searched with the
nprobe the build chose for it (its manifest entry); it is never built at serve time: without one
the request fails with a message saying how to build it.
"""

from __future__ import annotations

import logging

import numpy as np

from dkmap.data.store import image_space
from dkmap.errors import NotFound, Unavailable

log = logging.getLogger(__name__)


def faiss_index(reg, dataset: str, generator: str):
    """The Faiss index over `generator`'s image embeddings from the first built map that holds one;
    NotFound when no built map does, Unavailable when its file cannot be read."""
    from dkmap import similarity

    ds = reg.dataset(dataset)
    reg.require_generator(ds, dataset, generator)
    space = image_space(generator)
    for metric in reg.built_metrics(dataset):
        built = reg.map(dataset, metric)
        path = built.image_index_path(space)
        if path is None:
            continue

        nprobe = built.manifest.indexes[space].get("nprobe")

        def load(path=path, metric=metric, nprobe=nprobe):
            try:
                return similarity.set_nprobe(similarity.load(path), nprobe)
            except (OSError, RuntimeError) as exc:
                log.error("index %s of map %s/%s cannot be read: %s", path, dataset, metric, exc)
                raise Unavailable(f"the nearest-image index of model '{generator}' in the map of metric "
                                  f"'{metric}' could not be read (rebuild it with dkmap build --force)") from exc

        return reg.once(("faiss", dataset, generator, metric, built.stamp), load)
    raise NotFound(f"no nearest-image index for model '{generator}' in dataset '{dataset}': it is written "
                   f"by a map build (run: dkmap build DATASET_DIR --metric METRIC)")


def nearest(reg, dataset: str, generator: str, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the k images nearest to `row`'s image by `generator`, itself excluded."""
    from dkmap import similarity

    ds = reg.dataset(dataset)
    index = faiss_index(reg, dataset, generator)
    query = np.asarray(ds.embedding(image_space(generator))[row:row + 1], dtype=np.float32)
    scores, ids = similarity.search(index, query, k + 1)
    keep = (ids[0] >= 0) & (ids[0] != row)
    return ids[0][keep][:k].astype(np.int64), scores[0][keep][:k]
