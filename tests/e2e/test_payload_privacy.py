"""An invocation's input stays where it belongs (issue 12): in the message body and a result the
function chose to return, never in task events, error texts, dead letters or the worker's log."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import redis

from tests.support.processes import Proc, wait_until

pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-payload-7f1c"


def _finished(api: Proc, invocation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {}

    def done() -> bool:
        nonlocal body
        body = httpx.get(f"{api.url}/v1/invocations/{invocation_id}").json()
        return body.get("status") in ("succeeded", "failed")

    wait_until(done, 30, f"invocation {invocation_id}", api)
    return body


def test_input_is_not_echoed_by_events_errors_dead_letters_or_logs(
    shared_api: Proc, shared_worker: Proc, shared_redis: str
) -> None:
    """Everything Flower and any other event consumer sees (task-received `args`, task-failed
    `exception` and `traceback`), the record's error, the dead letter and the worker's log,
    for a success and for a failure whose pydantic error would quote the input."""
    client = redis.Redis.from_url(shared_redis)
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.psubscribe("*celeryev*")
    ids = []
    for function in ("echo", "leaky"):
        response = httpx.post(
            f"{shared_api.url}/v1/functions/{function}/invocations",
            json={"secret": SECRET},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    echoed, leaked = (_finished(shared_api, i) for i in ids)
    assert echoed["result"] == {"secret": SECRET}  # the function returned it: that is fine
    assert leaked["status"] == "failed" and "n: Input should be a valid integer" in leaked["error"]
    assert SECRET not in leaked["error"]

    events: list[bytes] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # events are batched, at most 0.1 s late
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            events.append(message["data"])
    pubsub.close()
    raw = b"\n".join(events).decode(errors="replace")
    assert ids[1] in str(_decoded(events)), "the task-failed event never arrived"
    assert SECRET not in str(_decoded(events))
    assert SECRET not in raw

    letter = httpx.get(f"{shared_api.url}/v1/dead-letters/{ids[1]}").json()
    shown = {k: v for k, v in letter.items() if k != "message"}  # the message is the task itself
    assert SECRET not in str(shown)
    assert SECRET not in shared_worker.log()
    client.close()


def _decoded(messages: list[bytes]) -> list[dict[str, Any]]:
    from tests.support.events import decode

    found: list[dict[str, Any]] = []
    for data in messages:
        found += decode({"data": data})
    return found
