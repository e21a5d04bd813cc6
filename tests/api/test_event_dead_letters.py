"""Knative's dead-letter sink at `POST /v1/events/dead-letters`, against a real Redis.

What Knative sends is the original event plus three extensions (knative/eventing
knative-v1.22.2, pkg/kncloudevents/attributes/knative_error.go, `KnativeErrorTransformers`;
pkg/kncloudevents/event_dispatcher.go, `dispatchExecutionInfoTransformers`, which base64-encodes
the failed response's body and cuts it to 1024 characters). The events here are built with the
CloudEvents SDK and carry those extensions as Knative's dispatcher would add them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import redis
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from tests.api.test_invocations import assert_problem

pytestmark = pytest.mark.anyio
DEST = "http://spillway-api.spillway.svc.cluster.local/v1/events"


def dead(event_type: str, data: Any, code: int, said: bytes, **attributes: Any) -> CloudEvent:
    attrs = {
        "type": event_type,
        "source": "/shop",
        "id": "order-9",
        "datacontenttype": "application/json",
        "knativeerrordest": DEST,
        "knativeerrorcode": str(code),
        "knativeerrordata": base64.b64encode(said).decode()[:1024],
    }
    attrs.update(attributes)
    return CloudEvent(attributes=attrs, data=data)


async def test_an_undeliverable_event_is_filed_once_with_why(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    problem = b'{"type":"urn:spillway:problem:invalid-input","detail":"bad"}'
    message = ce_http.to_binary_event(dead("dev.spillway.echo", {"n": 1}, 422, problem))
    first = await client.post("/v1/events/dead-letters", headers=message.headers,
                              content=message.body)  # fmt: skip
    assert first.status_code == 202, first.text
    (filed,) = first.json()["dead_letters"]
    assert filed["queue"] == "spillway" and filed["id"].startswith("ce-")
    # The sink's own retries (same delivery settings) file it once.
    again = await client.post("/v1/events/dead-letters", headers=message.headers,
                              content=message.body)  # fmt: skip
    assert again.json() == first.json()

    listed = (await client.get("/v1/dead-letters?reason=event_undeliverable")).json()["items"]
    assert [item["id"] for item in listed] == [filed["id"]]
    entry = (await client.get(f"/v1/dead-letters/{filed['id']}")).json()
    assert entry["function"] == "echo" and entry["invocation_id"] is None
    assert entry["reason"] == "event_undeliverable"
    assert entry["error"]["type"] == "HTTP 422"
    assert DEST in entry["error"]["message"] and "invalid-input" in entry["error"]["message"]
    kept = json.loads(entry["message"])
    assert kept["id"] == "order-9" and kept["source"] == "/shop" and kept["data"] == {"n": 1}
    # It names no invocation, so the store cannot replay it: the operator resends the event.
    replay = await client.post(f"/v1/dead-letters/{filed['id']}/replay")
    assert assert_problem(replay, 409)["code"] == "no_invocation"
    metrics = (await client.get("/metrics")).text
    assert 'spillway_dead_letters{function="echo",queue="spillway",reason="event_undeliverable"}' \
        ' 1.0' in metrics  # fmt: skip


async def test_any_event_is_kept_even_unrouted_or_not_json(client: httpx.AsyncClient) -> None:
    """What could not be delivered is kept whatever it is: an unrouted type goes to the default
    queue, text data is kept as it was, a cut-off knativeerrordata is decoded as far as it goes."""
    long = b'{"detail":"' + b"x" * 2000 + b'"}'
    event = dead("com.example.nobody", "plain text", 400, long, datacontenttype="text/plain")
    message = ce_http.to_structured_event(event)
    response = await client.post("/v1/events/dead-letters", headers=message.headers,
                                 content=message.body)  # fmt: skip
    assert response.status_code == 202, response.text
    (filed,) = response.json()["dead_letters"]
    entry = (await client.get(f"/v1/dead-letters/{filed['id']}")).json()
    assert entry["queue"] == "spillway" and entry["function"] is None
    assert json.loads(entry["message"])["data"] == "plain text"
    assert entry["error"]["message"].startswith(f"Knative could not deliver it to {DEST}: HTTP 400")
    assert len(entry["error"]["message"]) <= 1000


async def test_a_request_that_is_not_an_event_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events/dead-letters", headers={"content-type": "application/json"}, content=b"{}"
    )
    assert assert_problem(response, 400)["type"] == "urn:spillway:problem:invalid-event"


async def test_the_sink_is_documented_with_the_event_content_types(
    client: httpx.AsyncClient,
) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/v1/events/dead-letters"]
    content = operation["post"]["requestBody"]["content"]
    assert "application/cloudevents+json" in content and "application/json" in content
