"""Completion events end to end, parsed by the CloudEvents Python SDK (cloudevents.core.bindings
.http.from_binary: binary content mode, cloudevents/spec v1.0.2 http-protocol-binding.md 3.1),
not by code of ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from functions import keys
from tests.sender.test_callbacks_e2e import QUICK, record
from tests.support.processes import Proc
from tests.support.receiver import Receiver, receiving

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def test_every_finished_invocation_emits_a_completion_event_to_the_sink(
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
    redis_url: str,
    redis_client: redis.Redis,
    sink: Receiver,
) -> None:
    target = sink.answer("/sink", 503, 202)  # the first emission is retried, same id
    api = api_factory(redis_url, **QUICK)
    worker_factory(redis_url, **QUICK)
    sender_factory(
        redis_url,
        **QUICK,
        K_SINK=target,  # as a SinkBinding injects it
        K_CE_OVERRIDES='{"extensions":{"team":"payments"}}',
    )
    assert redis_client.exists(keys.outbox_events_key(""))  # the sender told the workers
    ids = {}
    for function, payload in (("echo", {"n": 1}), ("fail", {"message": "boom"})):
        response = httpx.post(
            f"{api.url}/v1/functions/{function}/invocations", json=payload, timeout=10
        )
        assert response.status_code == 202
        ids[function] = response.json()["id"]
    got = sink.wait_for("/sink", 3)
    events = [from_binary(HTTPMessage(headers=r.headers, body=r.body), JSONFormat()) for r in got]
    by_id: dict[str, list[BaseCloudEvent]] = {}
    for event in events:
        by_id.setdefault(event.get_id(), []).append(event)
    assert len(by_id) == 2 and sorted(len(v) for v in by_id.values()) == [1, 2]  # one retried
    for function, status in (("echo", "succeeded"), ("fail", "failed")):
        invocation_id = ids[function]
        (event, *_) = by_id[f"{invocation_id}-1-event"]
        assert event.get_type() == f"dev.spillway.invocation.{status}"
        assert event.get_source() == f"/spillway/{function}"
        assert event.get_subject() == invocation_id
        assert event.get_specversion() == "1.0"
        assert event.get_extension("team") == "payments"
        assert event.get_time() is not None
        data = event.get_data()
        assert isinstance(data, dict)
        assert data["id"] == invocation_id and data["status"] == status
        assert data["finished_at"] == record(api, invocation_id)["finished_at"]
    assert all(r.headers["content-type"] == "application/json" for r in got)
