"""One real API and one real worker shared by a module's load tests, on a Redis of their own.

Each module gets its own key prefix, so its queue, `unacked` hash and records never meet another
module's, and tests can read them without flushing a Redis that others use.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import Proc, start_api, start_worker


@pytest.fixture(scope="module")
def key_prefix(request: pytest.FixtureRequest) -> str:
    return f"lt-{request.module.__name__.rsplit('.', 1)[-1]}:"


@pytest.fixture(scope="module")
def load_api(redis_url: str, key_prefix: str) -> Iterator[Proc]:
    proc = start_api(redis_url, SPILLWAY_KEY_PREFIX=key_prefix)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def load_worker(redis_url: str, key_prefix: str) -> Iterator[Proc]:
    proc = start_worker(redis_url, SPILLWAY_KEY_PREFIX=key_prefix, SPILLWAY_WORKER_CONCURRENCY="4")
    yield proc
    proc.stop()
