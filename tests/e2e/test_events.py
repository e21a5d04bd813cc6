"""Task events for Flower: every task's events arrive, batched into few messages."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
import redis

from tests.support.processes import Proc

pytestmark = pytest.mark.e2e

EXPECTED = ["task-received", "task-started", "task-succeeded"]


def _events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events in one published kombu message: a list for `task.multi`, else one event."""
    envelope = json.loads(message["data"])
    body = envelope["body"]
    if envelope["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    decoded = json.loads(body)
    return decoded if isinstance(decoded, list) else [decoded]


def test_every_task_sends_its_events_in_batches(
    shared_api: Proc, shared_worker: Proc, shared_redis: str
) -> None:
    pubsub = redis.Redis.from_url(shared_redis).pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("*celeryev*")  # kombu's fanout channel for the celeryev exchange
    items = [{"n": i} for i in range(40)]
    response = httpx.post(
        f"{shared_api.url}/v1/functions/echo/invocations/batch", json={"items": items}, timeout=10
    )
    assert response.status_code == 202, response.text
    ids = set(response.json()["ids"])

    seen: dict[str, list[str]] = defaultdict(list)
    messages = 0
    deadline = time.monotonic() + 30
    while any(seen[i] != EXPECTED for i in ids) and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message is None:
            continue
        messages += 1
        for event in _events(message):
            if event.get("uuid") in ids:
                seen[event["uuid"]].append(event["type"])
    pubsub.close()

    # Each task's events arrive once each, in order: what Flower needs to follow it.
    assert {i: seen[i] for i in ids} == dict.fromkeys(ids, EXPECTED)
    # Three events per task, sent in far fewer messages (functions/worker/consumer.py).
    assert messages < len(ids)
