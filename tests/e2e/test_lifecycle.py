"""Status transitions, retries and ?wait through the API, with a real worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from functions import keys
from functions.registry import DEFAULT_QUEUE
from tests.support.ledger import read_counter
from tests.support.processes import Proc
from tests.support.runs import runs

pytestmark = pytest.mark.e2e


def submit(
    api: Proc, function: str, payload: dict[str, Any], wait: float | None = None
) -> httpx.Response:
    query = f"?wait={wait}" if wait is not None else ""
    return httpx.post(
        f"{api.url}/v1/functions/{function}/invocations{query}", json=payload, timeout=30
    )


def state(api: Proc, invocation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/v1/invocations/{invocation_id}", timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(
    api: Proc, invocation_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = state(api, invocation_id)
    while seen["status"] not in statuses:
        assert time.monotonic() < deadline, f"stuck in {seen}"
        time.sleep(0.02)
        seen = state(api, invocation_id)
    return seen


def test_status_moves_queued_running_succeeded(
    api: Proc, worker_factory: Callable[..., Proc], redis_url: str
) -> None:
    response = submit(api, "sleep", {"seconds": 1.0})
    assert response.status_code == 202
    invocation_id = response.json()["id"]
    time.sleep(0.3)
    assert state(api, invocation_id)["status"] == "queued"  # no worker yet

    worker_factory(redis_url)
    running = wait_for(api, invocation_id, {"running", "succeeded"})
    assert running["status"] == "running"
    assert running["started_at"] and running["finished_at"] is None and running["attempts"] == 1
    done = wait_for(api, invocation_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded"
    assert done["result"] == {"slept": 1.0}
    assert done["submitted_at"] < done["started_at"] < done["finished_at"]


def test_wait_returns_200_when_done_and_202_when_not(shared_api: Proc, shared_worker: Proc) -> None:
    api = shared_api
    fast = submit(api, "echo", {"hello": ["world", 1]}, wait=10)
    assert fast.status_code == 200
    assert fast.json()["result"] == {"hello": ["world", 1]}
    # Compact, like every other body (issue 10).
    assert fast.content == json.dumps(fast.json(), separators=(",", ":")).encode()
    assert fast.headers["location"].endswith(fast.json()["id"])

    started = time.monotonic()
    slow = submit(api, "sleep", {"seconds": 3}, wait=1)
    assert slow.status_code == 202
    assert time.monotonic() - started < 2
    wait_for(api, slow.json()["id"], {"succeeded"})  # the worker is idle again afterwards


def test_wait_answered_202_says_what_is_known(
    shared_api: Proc, shared_worker: Proc, shared_client: redis.Redis, counter_key: str
) -> None:
    """The status in a 202 after `?wait=` is the one the API last read, not a fixed word."""
    api = shared_api
    posted = time.time()
    answer = submit(api, "slow", {"key": counter_key, "seconds": 2}, wait=1)
    assert answer.status_code == 202, answer.text
    # The worker was idle, so the run started at once; the API polls the record at least every
    # 0.2 s while it waits, so the last record it read before answering said "running".
    (run,) = runs(shared_client, counter_key).values()
    assert run.first < posted + 0.5, f"the run started {run.first - posted:.2f}s after the POST"
    assert state(api, answer.json()["id"])["status"] == "running"
    assert answer.json()["status"] == "running", answer.text
    wait_for(api, answer.json()["id"], {"succeeded"})


def test_retryable_errors_are_retried_with_backoff_then_succeed(
    shared_api: Proc, shared_worker: Proc, shared_client: redis.Redis, counter_key: str
) -> None:
    api = shared_api
    invocation_id = submit(api, "flaky", {"key": counter_key, "fail_times": 2}).json()["id"]
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    while (current := state(api, invocation_id))["status"] not in {"succeeded", "failed"}:
        seen.add(current["status"])
        _retry_waits_in_redis(shared_client, invocation_id)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert current["status"] == "succeeded", current
    assert current["attempts"] == 3
    assert current["result"] == {"calls": 3, "key": counter_key}
    assert current["error"] is None
    assert "retrying" in seen
    assert read_counter(shared_client, counter_key) == 3


def _retry_waits_in_redis(client: redis.Redis, invocation_id: str) -> None:
    """A retry waiting out its backoff is in the scheduled set (or, once due, back in the
    queue), never in flight in a worker's memory (functions/worker/lua/retry.lua)."""
    pipe = client.pipeline(transaction=True)
    pipe.hget(keys.record_key("", invocation_id), "status")
    pipe.zrange(keys.scheduled_key(""), 0, -1)
    pipe.lrange(keys.queue_key("", DEFAULT_QUEUE), 0, -1)
    pipe.hkeys(keys.unacked_key(""))
    status, scheduled, queued, in_flight = pipe.execute()
    if status == b"retrying":
        mine = invocation_id.encode()
        waiting = [m for m in [*scheduled, *queued] if mine in m]
        assert len(waiting) == 1 and not [t for t in in_flight if t.startswith(mine)]


def test_retries_stop_after_the_last_attempt_with_the_error_recorded(
    shared_api: Proc, shared_worker: Proc, shared_client: redis.Redis, counter_key: str
) -> None:
    api = shared_api
    invocation_id = submit(api, "flaky", {"key": counter_key, "fail_times": 10}).json()["id"]
    done = wait_for(api, invocation_id, {"succeeded", "failed"})
    assert done["status"] == "failed"
    assert done["attempts"] == 3  # RetryPolicy(attempts=3)
    assert done["error"] == "Flaky: call 3 fails on purpose"
    assert read_counter(shared_client, counter_key) == 3


def test_non_retryable_errors_fail_at_once(
    shared_api: Proc, shared_worker: Proc, shared_client: redis.Redis, counter_key: str
) -> None:
    api = shared_api
    invocation_id = submit(api, "broken", {"key": counter_key}).json()["id"]
    done = wait_for(api, invocation_id, {"succeeded", "failed"})
    assert done["status"] == "failed"
    assert done["attempts"] == 1
    assert done["error"] == "ValueError: broken on purpose"
    time.sleep(0.5)
    assert read_counter(shared_client, counter_key) == 1


def test_batch_invocations_all_complete(shared_api: Proc, shared_worker: Proc) -> None:
    api = shared_api
    items = [{"user_id": i, "data": f"d{i}"} for i in range(20)]
    response = httpx.post(
        f"{api.url}/v1/functions/process-data/invocations/batch", json={"items": items}
    )
    assert response.status_code == 202
    for i, invocation_id in enumerate(response.json()["ids"]):
        done = wait_for(api, invocation_id, {"succeeded", "failed"})
        assert done["result"] == {"status": "success", "result": f"Processed d{i} for user {i}"}


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_worker_exposes_health_and_task_metrics(shared_api: Proc, shared_worker: Proc) -> None:
    series = (
        'spillway_task_outcomes_total{function="echo",outcome="succeeded"}',
        'spillway_task_duration_seconds_count{function="echo"}',
        'spillway_task_queue_wait_seconds_count{function="echo"}',
    )
    before = httpx.get(f"{shared_worker.url}/metrics").text
    for _ in range(3):
        assert submit(shared_api, "echo", {}, wait=10).status_code == 200
    after = httpx.get(f"{shared_worker.url}/metrics").text
    for name in series:
        assert _sample(after, name) - _sample(before, name) == 3, name
    health = httpx.get(f"{shared_worker.url}/healthz").json()
    assert health["status"] == "ok" and health["heartbeat_age_seconds"] < 5


def test_the_shipped_failing_functions_show_a_failure_a_retry_and_a_dead_letter(
    shared_api: Proc, shared_worker: Proc
) -> None:
    """`fail` and `fail-transiently` (functions/builtins.py): what a new user can try first."""
    api = shared_api
    failed = submit(api, "fail", {"message": "boom"}).json()["id"]
    done = wait_for(api, failed, {"succeeded", "failed"})
    assert (done["status"], done["attempts"]) == ("failed", 1), done
    assert done["error"] == "FailedOnRequest: boom"
    assert done["dead_letter"] == f"spillway/{failed}"

    flaky = submit(api, "fail-transiently", {"failures": 2}).json()["id"]
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    while (current := state(api, flaky))["status"] not in {"succeeded", "failed"}:
        seen.add(current["status"])
        assert time.monotonic() < deadline, current
        time.sleep(0.01)
    assert current["status"] == "succeeded" and "retrying" in seen, (current, seen)
    assert current["result"] == {"attempt": 3} and current["attempts"] == 3

    exhausted = submit(api, "fail-transiently", {"failures": 10}).json()["id"]
    done = wait_for(api, exhausted, {"succeeded", "failed"}, timeout=30)
    assert (done["status"], done["attempts"]) == ("failed", 4), done
    assert done["error"] == "TransientFailure: failure 4 of 10, on request"
    assert done["dead_letter"] == f"spillway/{exhausted}"
