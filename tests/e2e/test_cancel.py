"""Cancel with a real worker: a cancelled invocation is taken off its queue without running, a
running one is not interrupted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from functions import keys
from tests.support.ledger import read_counter
from tests.support.processes import Proc, wait_until

pytestmark = pytest.mark.e2e


def _submit(api: Proc, function: str, payload: dict[str, Any]) -> str:
    response = httpx.post(
        f"{api.url}/v1/functions/{function}/invocations", json=payload, timeout=10
    )
    assert response.status_code == 202, response.text
    invocation_id: str = response.json()["id"]
    return invocation_id


def _record(api: Proc, invocation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{api.url}/v1/invocations/{invocation_id}", timeout=5).json()
    return body


def test_a_cancelled_invocation_is_skipped_and_a_running_one_finishes(
    api: Proc,
    worker_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    request: pytest.FixtureRequest,
) -> None:
    key = f"calls:{request.node.name}"
    worker_factory(redis_url, SPILLWAY_WORKER_CONCURRENCY="1")  # one slot: the rest waits queued
    running = _submit(api, "slow", {"key": f"{key}:running", "seconds": 2.0})
    wait_until(lambda: _record(api, running)["status"] == "running", 20, "the first to run")
    waiting = _submit(api, "flaky", {"key": f"{key}:waiting"})
    after = _submit(api, "flaky", {"key": f"{key}:after"})

    refused = httpx.delete(f"{api.url}/v1/invocations/{running}", timeout=5)
    assert refused.status_code == 409 and refused.json()["code"] == "running"
    cancelled = httpx.delete(f"{api.url}/v1/invocations/{waiting}", timeout=5)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    # The one behind it runs, so the worker has reached and passed the cancelled message.
    wait_until(lambda: _record(api, after)["status"] == "succeeded", 30, "the one behind")
    assert _record(api, running)["status"] == "succeeded"  # not interrupted
    assert read_counter(redis_client, f"{key}:running") == 1
    assert read_counter(redis_client, f"{key}:waiting") == 0  # never ran
    record = _record(api, waiting)
    assert record["status"] == "cancelled" and record["attempts"] == 0
    assert record["started_at"] is None
    # Nothing of it is left: not queued, not in flight.
    assert redis_client.llen(keys.queue_key("", "spillway")) == 0
    assert redis_client.hlen(keys.unacked_key("")) == 0
    time.sleep(0.2)
    assert _record(api, waiting)["status"] == "cancelled"


def test_a_running_interruptible_invocation_is_stopped_and_recorded_cancelled(
    api: Proc,
    worker_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    request: pytest.FixtureRequest,
) -> None:
    """`stoppable` opted in (`interruptible=True`): a cancel ends even its blocking sleep, the
    record says cancelled, it does not run again, and the worker goes on with other work."""
    key = f"calls:{request.node.name}"
    worker_factory(redis_url)
    running = _submit(api, "stoppable", {"key": key, "seconds": 30.0})
    wait_until(lambda: _record(api, running)["status"] == "running", 20, "it to run")
    asked = time.monotonic()
    response = httpx.delete(f"{api.url}/v1/invocations/{running}", timeout=5)
    assert response.status_code == 202, response.text
    assert response.json()["history"][-1]["event"] == "cancel_requested"
    wait_until(lambda: _record(api, running)["status"] == "cancelled", 10, "it to stop")
    assert time.monotonic() - asked < 10  # not the 30 s sleep
    record = _record(api, running)
    assert record["error"].startswith("Cancelled:") and record["finished_at"]
    after = _submit(api, "echo", {"still": "working"})
    wait_until(lambda: _record(api, after)["status"] == "succeeded", 20, "the next one")
    time.sleep(0.5)
    assert read_counter(redis_client, key) == 1  # stopped once, never run again
    assert redis_client.hlen(keys.unacked_key("")) == 0
