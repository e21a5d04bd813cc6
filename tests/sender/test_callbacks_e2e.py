"""Callbacks end to end: real Redis, uvicorn API, Celery worker and `spillway sender` processes,
a real HTTP receiver, and the signatures checked by the `standardwebhooks` package (the Standard
Webhooks reference library, libraries/python/standardwebhooks/webhooks.py, Webhook.verify), not
by code of ours."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from standardwebhooks import Webhook

from functions import keys
from tests.support.processes import Proc, wait_until
from tests.support.receiver import Receiver, receiving

pytestmark = pytest.mark.e2e

NEW = "whsec_" + base64.b64encode(os.urandom(32)).decode()
OLD = "whsec_" + base64.b64encode(os.urandom(24)).decode()
QUICK = {
    "SPILLWAY_CALLBACK_ALLOW_NETWORKS": "127.0.0.0/8",
    "SPILLWAY_CALLBACK_SECRET": NEW,
    "SPILLWAY_CALLBACK_BACKOFF": "0.2",
    "SPILLWAY_CALLBACK_BACKOFF_MAX": "0.5",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def submit(api: Proc, function: str, payload: dict[str, Any], callback: str) -> str:
    response = httpx.post(
        f"{api.url}/v1/functions/{function}/invocations",
        json=payload,
        headers={"X-Callback-Url": callback},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def record(api: Proc, invocation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/v1/invocations/{invocation_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def callback_state(api: Proc, invocation_id: str, state: str, timeout: float = 30) -> Any:
    wait_until(
        lambda: record(api, invocation_id)["callback"]["state"] == state,
        timeout,
        f"callback of {invocation_id} to be {state}",
    )
    return record(api, invocation_id)["callback"]


def dead_letter(api: Proc, entry_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/v1/dead-letters/{entry_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_callbacks_wait_in_the_outbox_then_arrive_signed_with_every_secret(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    receiver: Receiver,
) -> None:
    """Success and failure both call back; until a sender runs, the deliveries wait in Redis;
    during a rotation both the new and the old secret verify the same callback."""
    api = api_factory(redis_url, **QUICK)
    worker_factory(redis_url, **QUICK)
    ok = submit(api, "echo", {"hello": "world"}, receiver.answer("/ok", 200))
    failed = submit(api, "fail", {"message": "boom"}, receiver.answer("/failed", 204))
    for invocation_id in (ok, failed):
        wait_until(
            lambda i=invocation_id: record(api, i)["status"] in ("succeeded", "failed"),  # type: ignore[misc]
            60,
            "the invocations to finish",
        )
    assert redis_client.llen(keys.outbox_key("")) == 2  # no sender yet: nothing is lost
    assert record(api, ok)["callback"]["state"] == "pending"

    sender_factory(redis_url, **{**QUICK, "SPILLWAY_CALLBACK_SECRET": f"{NEW} {OLD}"})
    for path, invocation_id, status in (("/ok", ok, "succeeded"), ("/failed", failed, "failed")):
        (got,) = receiver.wait_for(path)
        assert got.headers["content-type"] == "application/json"
        assert got.headers["webhook-id"] == f"{invocation_id}-1"
        assert len(got.headers["webhook-signature"].split(" ")) == 2  # one per secret
        for secret in (NEW, OLD):
            body = Webhook(secret).verify(got.body, got.headers)
            assert body["id"] == invocation_id and body["status"] == status
        with pytest.raises(Exception, match="signature"):
            Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode()).verify(
                got.body, got.headers
            )
    assert Webhook(NEW).verify(receiver.at("/ok")[0].body, receiver.at("/ok")[0].headers)[
        "result"
    ] == {"hello": "world"}
    assert (
        "boom"
        in Webhook(NEW).verify(receiver.at("/failed")[0].body, receiver.at("/failed")[0].headers)[
            "error"
        ]
    )
    state = callback_state(api, ok, "delivered")
    assert (state["attempts"], state["last_status"]) == (1, 200)
    assert state["delivered_at"] and state["url"] == receiver.url + "/ok"
    assert callback_state(api, failed, "delivered")["last_status"] == 204
    assert redis_client.llen(keys.outbox_key("")) == 0
    assert NEW not in str(record(api, ok)) and NEW[6:] not in str(record(api, ok))


def test_retries_honour_retry_after_stop_at_4xx_and_end_at_the_deadline(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    receiver: Receiver,
) -> None:
    settings = {**QUICK, "SPILLWAY_CALLBACK_DEADLINE": "4"}
    api = api_factory(redis_url, **settings)
    worker_factory(redis_url, **settings)
    sender_factory(redis_url, **settings)
    retried = submit(api, "echo", {"n": 1}, receiver.answer("/retry", 503, 200))
    throttled = submit(
        api, "echo", {"n": 2}, receiver.answer("/throttled", (429, {"Retry-After": "2"}), 200)
    )
    refused = submit(api, "echo", {"n": 3}, receiver.answer("/bad", 400))
    down = submit(api, "echo", {"n": 4}, receiver.answer("/down", 503))

    # 503, then 200: the same delivery twice (same id, same signed body), then delivered.
    first, second = receiver.wait_for("/retry", 2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"{retried}-1"
    assert first.body == second.body
    for got in (first, second):
        Webhook(NEW).verify(got.body, got.headers)
    state = callback_state(api, retried, "delivered")
    assert (state["attempts"], state["last_status"]) == (2, 200)

    # 429 with Retry-After: 2 waits 2 s although the backoff alone would wait at most 0.5 s.
    first, second = receiver.wait_for("/throttled", 2)
    assert second.at - first.at >= 1.9
    assert callback_state(api, throttled, "delivered")["attempts"] == 2

    # 400: failed at once, never retried, dead-lettered.
    state = callback_state(api, refused, "failed")
    assert (state["attempts"], state["last_status"]) == (1, 400)
    time.sleep(1.5)  # three backoff periods: a retry would have come by now
    assert len(receiver.at("/bad")) == 1
    entry = dead_letter(api, f"{refused}-1")
    assert (entry["reason"], entry["queue"], entry["invocation_id"]) == (
        "callback_failed",
        "spillway:outbox",
        refused,
    )
    assert "400" in entry["error"]["message"]
    # The receiver is fixed: replaying the dead letter sends the same delivery again.
    receiver.answer("/bad", 200)
    replayed = httpx.post(f"{api.url}/v1/dead-letters/{refused}-1/replay", timeout=10)
    assert replayed.status_code == 202, replayed.text
    again = receiver.wait_for("/bad", 2)[1]
    assert (
        again.headers["webhook-id"] == f"{refused}-1" and again.body == receiver.at("/bad")[0].body
    )
    assert callback_state(api, refused, "delivered")["attempts"] == 1
    assert record(api, refused)["history"][-1]["event"] == "redelivery"

    # Always 503: retried until the deadline, then dead-lettered; the record says so.
    state = callback_state(api, down, "failed", timeout=30)
    assert state["attempts"] >= 3 and state["last_status"] == 503
    entry = dead_letter(api, f"{down}-1")
    assert entry["reason"] == "callback_failed" and entry["error"]["type"] == "DeadlinePassed"
    assert "SPILLWAY_CALLBACK_DEADLINE" in entry["error"]["message"]
    assert len(receiver.at("/down")) == state["attempts"]
    # The invocation itself succeeded: its record is not pointed at the callback's dead letter.
    assert record(api, down)["status"] == "succeeded" and record(api, down)["dead_letter"] is None


def test_a_sender_killed_mid_delivery_loses_nothing(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    receiver: Receiver,
) -> None:
    """SIGKILL between taking a delivery and settling it: the delivery stays in the dead
    sender's processing list until its lease expires, then another sender sends it again."""
    settings = {**QUICK, "SPILLWAY_SENDER_LEASE_TTL": "3", "SPILLWAY_CALLBACK_TIMEOUT": "2.5"}
    api = api_factory(redis_url, **settings)
    worker_factory(redis_url, **settings)
    doomed = sender_factory(redis_url, **settings)
    invocation_id = submit(api, "echo", {"n": 1}, receiver.answer("/slow", "hang", 200))
    receiver.wait_for("/slow")
    doomed.kill_group()
    processing = list(redis_client.keys("spillway:outbox:processing:*"))
    assert len(processing) == 1 and redis_client.llen(processing[0]) == 1
    assert redis_client.llen(keys.outbox_key("")) == 0

    sender_factory(redis_url, **settings)
    first, second = receiver.wait_for("/slow", 2, timeout=30)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"{invocation_id}-1"
    Webhook(NEW).verify(second.body, second.headers)
    assert callback_state(api, invocation_id, "delivered")["last_status"] == 200
    assert not redis_client.exists(processing[0])


def test_the_guard_refuses_at_connect_time_without_retrying(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """The API lets `[::1]` through (its allow list has it), the sender's does not: the sender
    refuses to connect although a receiver listens there, and dead-letters at once."""
    try:
        v6 = receiving("::1")
        receiver = v6.__enter__()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        api = api_factory(redis_url, **{**QUICK, "SPILLWAY_CALLBACK_ALLOW_NETWORKS": "::1/128"})
        worker_factory(redis_url, **QUICK)
        sender_factory(redis_url, **QUICK)
        invocation_id = submit(api, "echo", {"n": 1}, receiver.answer("/inside", 200))
        state = callback_state(api, invocation_id, "failed")
        assert state["attempts"] == 1 and state["last_status"] is None
        assert "::1 is a loopback address" in state["error"]
        time.sleep(1)
        assert receiver.at("/inside") == []
        entry = dead_letter(api, f"{invocation_id}-1")
        assert entry["reason"] == "callback_failed"
        assert entry["error"]["type"] == "TargetRefused"
    finally:
        v6.__exit__(None, None, None)


def test_a_sender_stopped_with_sigterm_finishes_its_attempt_and_leaves_the_rest(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    receiver: Receiver,
) -> None:
    """SIGTERM (a rollout) while a receiver hangs: the attempt ends at its timeout and is
    scheduled again, the sender exits well before its lease would, and the next sender
    delivers the same callback."""
    settings = {**QUICK, "SPILLWAY_CALLBACK_TIMEOUT": "2"}
    api = api_factory(redis_url, **settings)
    worker_factory(redis_url, **settings)
    first = sender_factory(redis_url, **settings)
    invocation_id = submit(api, "echo", {"n": 1}, receiver.answer("/slow", "hang", 200))
    receiver.wait_for("/slow")
    stopped = time.monotonic()
    assert first.stop(timeout=20) == 0
    assert time.monotonic() - stopped < 10  # not the 30 s lease
    assert not redis_client.keys("spillway:outbox:processing:*")
    assert not redis_client.zcard(keys.outbox_senders_key(""))
    assert record(api, invocation_id)["callback"]["attempts"] == 1

    sender_factory(redis_url, **settings)
    second = receiver.wait_for("/slow", 2)[1]
    assert second.headers["webhook-id"] == f"{invocation_id}-1"
    assert callback_state(api, invocation_id, "delivered")["attempts"] == 2


def test_an_event_submit_calls_back_like_a_direct_one(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    receiver: Receiver,
) -> None:
    """X-Callback-Url on POST /v1/events (binary mode, as a Knative Trigger delivers it with a
    header added by the producer): checked the same way, kept by the invocation, called back
    once; a bad URL is the same 422 problem before anything is enqueued."""
    api = api_factory(redis_url, **QUICK)
    worker_factory(redis_url, **QUICK)
    sender_factory(redis_url, **QUICK)
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "evt-1",
        "ce-source": "/tests/callbacks",
        "ce-type": "dev.spillway.echo",
        "content-type": "application/json",
    }
    bad = httpx.post(
        f"{api.url}/v1/events",
        content=b'{"n": 1}',
        headers={**headers, "X-Callback-Url": "ftp://example.com/x"},
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["type"] == "urn:spillway:problem:invalid-callback-url"
    sent = httpx.post(
        f"{api.url}/v1/events",
        content=b'{"n": 1}',
        headers={**headers, "X-Callback-Url": receiver.answer("/event", 200)},
    )
    assert sent.status_code == 202, sent.text
    invocation_id = sent.json()["id"]
    (got,) = receiver.wait_for("/event")
    body = Webhook(NEW).verify(got.body, got.headers)
    assert body["id"] == invocation_id and body["status"] == "succeeded"
    assert body["event"]["id"] == "evt-1"
    assert callback_state(api, invocation_id, "delivered")["attempts"] == 1


def test_a_cancelled_invocation_calls_back_too(
    api_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    receiver: Receiver,
) -> None:
    """Cancelling a queued invocation (no worker runs) is a final outcome: its callback says
    `cancelled`, signed like the others."""
    api = api_factory(redis_url, **QUICK)
    sender_factory(redis_url, **QUICK)
    invocation_id = submit(api, "echo", {"n": 1}, receiver.answer("/cancelled", 200))
    cancelled = httpx.delete(f"{api.url}/v1/invocations/{invocation_id}", timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    (got,) = receiver.wait_for("/cancelled")
    body = Webhook(NEW).verify(got.body, got.headers)
    assert body["id"] == invocation_id and body["status"] == "cancelled"
    assert callback_state(api, invocation_id, "delivered")["attempts"] == 1
