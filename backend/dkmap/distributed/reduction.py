"""Tree reduction of Dask futures: combine pairs level by level, so no worker receives every part."""

from __future__ import annotations

from typing import Any, Callable

from distributed import Client, Future

RETRIES = 3


def identity(value: Any) -> Any:
    """Places a value on the cluster as a task result: unlike scattered data, it is recomputed
    (from the task's own argument) if the worker holding it dies."""
    return value


def tree_reduce(client: Client, combine: Callable[[Any, Any], Any], futures: list[Future],
                name: str = "reduce") -> Future:
    """One future holding combine(…combine(f0, f1)…) over a balanced binary tree of depth log2(n).

    `combine` must be associative; the pairing is fixed by position, so the result does not depend on
    which tasks finish first (same float rounding on every run).
    """
    if not futures:
        raise ValueError("tree_reduce needs at least one future")
    level = list(futures)
    depth = 0
    while len(level) > 1:
        nxt = [client.submit(combine, level[i], level[i + 1], retries=RETRIES,
                             key=f"{name}-{depth}-{i // 2}-{level[i].key}")
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        depth += 1
    return level[0]
