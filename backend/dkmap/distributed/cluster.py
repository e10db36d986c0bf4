"""Connection to a Dask cluster: a scheduler address, an existing Client, or a LocalCluster we own."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from distributed import Client, LocalCluster

log = logging.getLogger(__name__)

# Per worker: one partition's features (250k × 256 float32 = 256 MB) plus its binned level grids
# (~90 MB at max_grid 2048) and the reduction's two operands fit well within this.
LOCAL_WORKERS = 2
LOCAL_THREADS = 1
LOCAL_MEMORY = "3GiB"


@contextlib.contextmanager
def connect(scheduler: str | Client | None = None, n_workers: int = LOCAL_WORKERS,
            threads_per_worker: int = LOCAL_THREADS, memory_limit: str = LOCAL_MEMORY) -> Iterator[Client]:
    """Yield a Client: to `scheduler` (an address or a Client, left open) or to a new LocalCluster,
    closed on exit. Worker processes of a LocalCluster are restarted by their nanny when killed."""
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise TypeError(f"scheduler must be an address like 'tcp://host:8786', a Client or None, "
                            f"got {scheduler!r}")
        with Client(scheduler) as client:
            log.info("connected to %s (dashboard %s)", scheduler, client.dashboard_link)
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      memory_limit=memory_limit, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        log.info("LocalCluster: %d workers × %d thread, %s each (dashboard %s)", n_workers,
                 threads_per_worker, memory_limit, client.dashboard_link)
        yield client
