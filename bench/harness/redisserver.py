"""A private redis-server for a section, on the load generator's CPUs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from bench.harness.cpus import pin
from bench.harness.priority import boost
from functions.localredis import RedisServer


@contextlib.contextmanager
def redis_server(cpus: Iterable[int]) -> Iterator[RedisServer]:
    """A private redis-server on a free port (functions.localredis), pinned to `cpus`."""
    server = RedisServer().start()
    assert server.process is not None
    pin(server.process.pid, cpus)
    boost(server.process.pid)
    try:
        yield server
    finally:
        server.close()
