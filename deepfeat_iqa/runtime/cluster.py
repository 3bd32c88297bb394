"""One reading of ``client=`` for everything that runs on Dask (extraction blocks, tuning trials).

``client`` may be a live ``dask.distributed.Client``, a scheduler address, or ``"local"`` for a
LocalCluster of one single-threaded worker process per core that lives for the one call. A client
that cannot reach its scheduler fails at once, before anything is planned or sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import distributed

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.runtime.machine import usable_cores

#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10


@contextlib.contextmanager
def connect(client: Any) -> Iterator[Any]:
    """A live Client for ``client`` (a Client, a scheduler address, or ``"local"``); fail fast if unreachable."""
    if isinstance(client, str) and client == "local":
        cluster = distributed.LocalCluster(n_workers=usable_cores(), threads_per_worker=1, processes=True, dashboard_address=":0")
        with cluster, distributed.Client(cluster) as local:
            yield local
        return
    if isinstance(client, str):
        try:
            remote = distributed.Client(client, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError(
                f"Cannot reach the Dask scheduler at {client!r} within {CONNECT_TIMEOUT_S} s ({error}). Start it "
                "(dask scheduler), check the address, or pass client='local' or client=None."
            ) from error
        with remote:
            yield remote
        return
    if not isinstance(client, distributed.Client):
        raise ConfigError(f"client={client!r} is not a dask.distributed.Client, a scheduler address or 'local'.")
    if client.status != "running":
        raise ConfigError(
            f"The Dask client given cannot reach its scheduler (status {client.status!r}); nothing was sent. "
            "Reconnect it, or pass client='local' or client=None."
        )
    yield client


def check_reachable(client: Any) -> None:
    """Fail now, before any planning, if ``client`` cannot reach its scheduler (``"local"`` always can)."""
    if client is None or (isinstance(client, str) and client == "local"):
        return
    with connect(client):
        pass
