"""A rolling deploy: the API knows a function before any worker of the pool does.

Knative rolls the API's revision and the worker Deployment independently. Celery would discard
a message for a task it does not know (celery/worker/consumer/consumer.py, on_unknown_task:
reject(requeue=False)); Spillway's worker holds it back in Redis for a worker that knows it
(functions/worker/lua/hold.lua), and dead-letters it only after SPILLWAY_UNKNOWN_TASK_HOLD.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
import redis

from tests.support.processes import Proc

pytestmark = pytest.mark.e2e

OLD = "functions.builtins"  # the worker image before `slow` (a test function) was added


def _state(api: Proc, invocation_id: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{api.url}/v1/invocations/{invocation_id}").json()
    return body


def test_an_older_worker_holds_new_work_back_for_a_newer_one(
    api: Proc, worker_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis
) -> None:
    old = worker_factory(redis_url, SPILLWAY_FUNCTION_MODULES=OLD)
    new_work = httpx.post(f"{api.url}/v1/functions/slow/invocations", json={"key": "k"}).json()
    known = httpx.post(f"{api.url}/v1/functions/echo/invocations?wait=10", json={"a": 1})
    assert known.status_code == 200, known.text  # the old worker still does what it knows
    deadline = time.monotonic() + 15
    while not (state := _state(api, new_work["id"]))["history"]:
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["status"] == "queued" and state["attempts"] == 0, state
    assert [e["event"] for e in state["history"]] == ["held_back"]  # type: ignore[attr-defined]

    worker_factory(redis_url)  # the new image, with `slow`
    deadline = time.monotonic() + 30
    while (state := _state(api, new_work["id"]))["status"] != "succeeded":
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["attempts"] == 1 and state["dead_letter"] is None
    # Once back on the queue, the message goes to the worker that knows it: the old one lets
    # the new one fetch first (Deliveries.yielding) instead of racing it and holding it again.
    assert old.log().count(f"held back {new_work['id']}.") == 1, old.log()
    assert "slow" not in old.log().split("[tasks]")[-1].split("\n\n")[0]


def test_work_no_worker_ever_knows_is_dead_lettered_after_the_hold(
    api: Proc, worker_factory: Callable[..., Proc], redis_url: str, redis_client: redis.Redis
) -> None:
    worker_factory(redis_url, SPILLWAY_FUNCTION_MODULES=OLD, SPILLWAY_UNKNOWN_TASK_HOLD="2")
    invocation_id = httpx.post(
        f"{api.url}/v1/functions/slow/invocations", json={"key": "k"}
    ).json()["id"]
    deadline = time.monotonic() + 30
    while (state := _state(api, invocation_id))["status"] != "failed":
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["dead_letter"] == f"spillway/{invocation_id}"
    assert "NotRegistered" in str(state["error"])
    entry = json.loads(redis_client.hget("spillway:dlq:spillway", invocation_id) or "{}")
    assert entry["reason"] == "unknown_task" and entry["function"] == "slow"
