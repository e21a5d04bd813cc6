"""Task events for Flower: every task's events arrive, batched into few messages."""

from __future__ import annotations

import httpx
import pytest

from tests.support.events import EventWatch
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e

EXPECTED = ["task-received", "task-started", "task-succeeded"]


def test_every_task_sends_its_events_in_batches(
    shared_api: Proc, shared_worker: Proc, shared_redis: str
) -> None:
    watch = EventWatch(shared_redis)
    items = [{"n": i} for i in range(40)]
    response = httpx.post(
        f"{shared_api.url}/v1/functions/echo/invocations/batch", json={"items": items}, timeout=10
    )
    assert response.status_code == 202, response.text
    ids = set(response.json()["ids"])
    seen = watch.collect(ids, EXPECTED, timeout=30)
    watch.close()

    # Each task's events arrive once each, in order: what Flower needs to follow it.
    assert seen == dict.fromkeys(ids, EXPECTED)
    # Three events per task, sent in far fewer messages (functions/worker/consumer.py).
    assert watch.messages < len(ids)
