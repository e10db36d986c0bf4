"""SPEC of two embedding spaces of a dataset (dkmap.compare.spec), computed once per process and kept."""

from __future__ import annotations


def spec(reg, dataset: str, x: str, y: str, k: int):
    """The SPEC result of spaces x and y with k clusters, from the registry's cache or computed."""
    from dkmap.compare.spec import spec as compute

    ds = reg.dataset(dataset)

    def load():
        with reg.spec_lock:  # one computation at a time: SPEC streams every item, the heaviest request
            return compute(ds.embedding(x), ds.embedding(y), k=k)

    return reg.once(("spec", dataset, x, y, k), load)
