"""The Dask client every pipeline uses: an existing scheduler by address, or a LocalCluster of worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def dask_client(scheduler_address: str | None, n_workers: int) -> Iterator[Any]:
    """A ``dask.distributed.Client`` on ``scheduler_address``, else on a new LocalCluster of ``n_workers``
    single-threaded processes; the client (and a cluster it started) is closed on exit."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler_address:
        client = Client(scheduler_address)
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
