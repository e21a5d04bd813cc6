"""One real API and one real worker shared by the load tests.

They use a key prefix of their own, so their queue, `unacked` hash and records never meet other
tests' keys, and no test needs to flush a Redis that others use. Every run has its own
idempotency keys, so runs never replay each other. The API also serves `tiny-backlog`
(backlog_functions.py), which nothing consumes, and `even-only` (strict_functions.py), whose
model refuses more than its schema says.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import TEST_FUNCTIONS, Proc, start_api, start_worker


@pytest.fixture(scope="package")
def key_prefix() -> str:
    return "lt-load:"


@pytest.fixture(scope="package")
def load_api(redis_url: str, key_prefix: str) -> Iterator[Proc]:
    proc = start_api(
        redis_url,
        SPILLWAY_KEY_PREFIX=key_prefix,
        SPILLWAY_FUNCTION_MODULES=(
            f"{TEST_FUNCTIONS},tests.loadtest.backlog_functions,tests.loadtest.strict_functions"
        ),
        SPILLWAY_BACKLOG_RETRY_AFTER="1",
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def load_worker(redis_url: str, key_prefix: str) -> Iterator[Proc]:
    proc = start_worker(redis_url, SPILLWAY_KEY_PREFIX=key_prefix, SPILLWAY_WORKER_CONCURRENCY="4")
    yield proc
    proc.stop()
