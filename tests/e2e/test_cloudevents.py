"""CloudEvents sent by the SDK to a real API (uvicorn) run the right function exactly once, on a
real worker, however often they are redelivered.

Redelivery is what Knative Eventing does when an answer is lost or is a status it retries
(knative/eventing knative-v1.22.2, pkg/kncloudevents/retries.go, `SelectiveRetry`): the same
event, same `source` and `id`, sent again, maybe while the first delivery is still in flight.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.support.ledger import read_counter
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e
COUNTED = "dev.spillway.test.counted"


def make(key: str, source: str, event_id: str, seconds: float = 0.0) -> CloudEvent:
    return CloudEvent(
        attributes={
            "type": COUNTED,
            "source": source,
            "id": event_id,
            "datacontenttype": "application/json",
        },
        data={"key": key, "seconds": seconds},
    )


def send(api: Proc, mode: str, *events: CloudEvent) -> httpx.Response:
    if mode == "binary":
        message = ce_http.to_binary_event(events[0])
        headers, body = message.headers, message.body
    elif mode == "structured":
        message = ce_http.to_structured_event(events[0])
        headers, body = message.headers, message.body
    else:
        body = b"[" + b",".join(JSONFormat().write(e) for e in events) + b"]"
        headers = {"content-type": "application/cloudevents-batch+json"}
    return httpx.post(f"{api.url}/v1/events", headers=headers, content=body, timeout=30)


def finished(api: Proc, invocation_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = httpx.get(
            f"{api.url}/v1/invocations/{invocation_id}", timeout=5
        ).json()
        if record["status"] in ("succeeded", "failed"):
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_redelivered_event_runs_its_function_once(
    shared_api: Proc,
    shared_worker: Proc,
    shared_client: redis.Redis,
    counter_key: str,
    mode: str,
) -> None:
    """Eight deliveries of one event, at once, then one more after it ran: one run."""
    event = make(counter_key, "/tests/flaky", f"{counter_key}-1", seconds=0.3)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: send(shared_api, mode, event), range(8)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1
    (invocation_id,) = ids
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7

    record = finished(shared_api, invocation_id)
    assert record["status"] == "succeeded" and record["function"] == "flaky"
    assert record["result"] == {"calls": 1, "key": counter_key}
    assert record["event"]["id"] == f"{counter_key}-1"
    assert record["event"]["source"] == "/tests/flaky" and record["event"]["type"] == COUNTED

    late = send(shared_api, mode, event)  # after it finished: still the same invocation
    assert late.status_code == 202 and late.json()["id"] == invocation_id
    assert late.json()["status"] == "succeeded"
    time.sleep(0.5)
    assert read_counter(shared_client, counter_key) == 1


def test_a_batch_runs_each_event_once_on_the_function_its_source_picks(
    shared_api: Proc, shared_worker: Proc, shared_client: redis.Redis, counter_key: str
) -> None:
    flaky = make(f"{counter_key}:a", "/tests/flaky", "a")
    slow = make(f"{counter_key}:b", "/tests/elsewhere", "b")
    first = send(shared_api, "batch", flaky, slow)
    assert first.status_code == 202, first.text
    again = send(shared_api, "batch", slow, flaky)  # redelivered, in another order
    assert again.json()["ids"] == first.json()["ids"][::-1]

    records = [finished(shared_api, i) for i in first.json()["ids"]]
    assert [r["function"] for r in records] == ["flaky", "slow"]
    assert all(r["status"] == "succeeded" for r in records)
    assert read_counter(shared_client, f"{counter_key}:a") == 1
    assert read_counter(shared_client, f"{counter_key}:b") == 1


def test_the_shipped_echo_takes_its_event_and_returns_the_data(
    shared_api: Proc, shared_worker: Proc
) -> None:
    event = CloudEvent(
        attributes={"type": "dev.spillway.echo", "source": "/readme", "id": "echo-1"},
        data={"hello": "events"},
    )
    message = ce_http.to_binary_event(event)
    response = httpx.post(
        f"{shared_api.url}/v1/events", headers=message.headers, content=message.body, timeout=30
    )
    assert response.status_code == 202, response.text
    assert finished(shared_api, response.json()["id"])["result"] == {"hello": "events"}
