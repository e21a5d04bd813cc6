"""`POST /v1/events` against a real Redis: the modes, redelivery, and every refusal.

Events are built and encoded with the CloudEvents SDK (`cloudevents.core`), not by hand, so the
wire format is the one producers use.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import redis
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.api.test_invocations import assert_problem

pytestmark = pytest.mark.anyio
ECHO = "dev.spillway.echo"


def event(data: Any = None, **attributes: Any) -> CloudEvent:
    attrs = {"type": ECHO, "source": "/tests/api", "datacontenttype": "application/json"}
    attrs.update(attributes)
    return CloudEvent(attributes=attrs, data=data)


def binary(ev: CloudEvent) -> dict[str, Any]:
    message = ce_http.to_binary_event(ev)
    return {"headers": message.headers, "content": message.body}


def structured(ev: CloudEvent) -> dict[str, Any]:
    message = ce_http.to_structured_event(ev)
    return {"headers": message.headers, "content": message.body}


def batch(*events: CloudEvent) -> dict[str, Any]:
    """The batched mode (binding 3.3): a JSON array of structured events. The SDK writes each
    event; the array and its content type are the binding's."""
    fmt = JSONFormat()
    body = b"[" + b",".join(fmt.write(ev) for ev in events) + b"]"
    return {"headers": {"content-type": "application/cloudevents-batch+json"}, "content": body}


@pytest.mark.parametrize("encode", [binary, structured], ids=["binary", "structured"])
async def test_an_event_is_an_invocation_of_its_function_with_its_attributes_kept(
    client: httpx.AsyncClient, redis_client: redis.Redis, encode: Any
) -> None:
    ev = event({"order": 7, "note": "ß ok"}, id="order-7", subject="orders/7", traceparent="00-x")
    response = await client.post("/v1/events", **encode(ev))
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "function", "status", "status_url"}
    assert body["function"] == "echo" and body["status"] == "queued"
    assert response.headers["location"] == body["status_url"]
    assert "idempotent-replayed" not in response.headers

    message = json.loads(redis_client.lindex("spillway", 0))  # type: ignore[arg-type]
    assert message["headers"]["task"] == "spillway.echo"
    args = json.loads(base64.b64decode(message["body"]))[0]  # Celery's [args, kwargs, embed]
    assert args == [{"order": 7, "note": "ß ok"}]
    record = (await client.get(body["status_url"])).json()
    assert record["status"] == "queued"
    assert record["event"]["id"] == "order-7" and record["event"]["source"] == "/tests/api"
    assert record["event"]["type"] == ECHO and record["event"]["specversion"] == "1.0"
    assert record["event"]["subject"] == "orders/7" and record["event"]["traceparent"] == "00-x"
    assert record["event"]["datacontenttype"].startswith("application/json")
    assert "data" not in record["event"]


async def test_a_redelivered_event_answers_the_same_id_and_enqueues_once(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    ev = event({"n": 1}, id="same")
    first = await client.post("/v1/events", **binary(ev))
    again = await client.post("/v1/events", **structured(ev))  # the mode does not matter
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert redis_client.llen("spillway") == 1
    # The same id from another source is another event.
    other = await client.post("/v1/events", **binary(event({"n": 1}, id="same", source="/b")))
    assert other.json()["id"] != first.json()["id"]
    assert redis_client.llen("spillway") == 2


async def test_an_event_never_collides_with_an_idempotency_key(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    """Event keys hold a space, which an Idempotency-Key header cannot."""
    await client.post("/v1/events", **binary(event({"n": 1}, id="k")))
    direct = await client.post(
        "/v1/functions/echo/invocations", json={"n": 1}, headers={"Idempotency-Key": "k"}
    )
    assert direct.status_code == 202 and "idempotent-replayed" not in direct.headers
    assert redis_client.llen("spillway") == 2


async def test_a_batch_is_all_or_nothing_and_answers_every_id_in_order(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    events = [event({"i": i}, id=f"b{i}") for i in range(3)]
    response = await client.post("/v1/events", **batch(*events))
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    assert len(set(ids)) == 3 and redis_client.llen("spillway") == 3

    # One bad event refuses the whole batch, pointing at it; nothing more is enqueued.
    bad = [event({"i": 9}, id="b9"), event([1, 2], id="b10")]
    refused = assert_problem(await client.post("/v1/events", **batch(*bad)), 422)
    assert refused["type"] == "urn:spillway:problem:invalid-input"
    assert [e["path"] for e in refused["errors"]] == ["/1/data"]  # type: ignore[attr-defined]
    assert redis_client.llen("spillway") == 3

    # A redelivered batch, and a pair twice in one batch, get the ids they had.
    again = await client.post("/v1/events", **batch(events[1], events[1], event({}, id="b3")))
    assert again.json()["ids"][:2] == [ids[1], ids[1]]
    assert again.headers["idempotent-replayed"] == "true"
    assert redis_client.llen("spillway") == 4
    empty = await client.post("/v1/events", **batch())
    assert empty.status_code == 202 and empty.json() == {"ids": []}


async def test_data_is_validated_like_a_direct_invocation(client: httpx.AsyncClient) -> None:
    """Same 422, same pointers (into the data), as POST /v1/functions/{name}/invocations."""
    json_type = {"content-type": "application/json"}
    direct = await client.post("/v1/functions/echo/invocations", content=b"[1]", headers=json_type)
    message = ce_http.to_binary_event(event(None, id="v"))
    via_event = await client.post(
        "/v1/events", headers={**message.headers, **json_type}, content=b"[1]"
    )
    a, b = assert_problem(direct, 422), assert_problem(via_event, 422)
    assert a["type"] == b["type"] == "urn:spillway:problem:invalid-input"
    assert a["errors"] == b["errors"]
    envelope = b'{"specversion":"1.0","id":"n","source":"/s","type":"%s","data":{"x":NaN}}'
    nan = await client.post(
        "/v1/events",
        headers={"content-type": "application/cloudevents+json"},
        content=envelope % ECHO.encode(),
    )
    assert assert_problem(nan, 422)["errors"][0]["path"] == "/data"  # type: ignore[index]


@pytest.mark.parametrize(
    ("headers", "pointer"),
    [
        ({"ce-source": "/s", "ce-type": ECHO, "ce-specversion": "1.0"}, "/headers/ce-id"),
        ({"ce-id": "1", "ce-type": ECHO, "ce-specversion": "1.0"}, "/headers/ce-source"),
        ({"ce-id": "1", "ce-source": "/s", "ce-specversion": "1.0"}, "/headers/ce-type"),
        ({"ce-id": "1", "ce-source": "/s", "ce-type": ECHO}, "/headers/ce-specversion"),
        ({"ce-id": "", "ce-source": "/s", "ce-type": ECHO, "ce-specversion": "1.0"},
         "/headers/ce-id"),
        ({"ce-id": "1", "ce-source": "/s", "ce-type": ECHO, "ce-specversion": "0.3"},
         "/headers/ce-specversion"),
        ({"ce-id": "1", "ce-source": "/s", "ce-type": ECHO, "ce-specversion": "1.0",
          "ce-datacontenttype": "application/json"}, "/headers/ce-datacontenttype"),
        ({"ce-id": "1", "ce-source": "/s", "ce-type": ECHO, "ce-specversion": "1.0",
          "ce-Bad_Name": "x"}, "/headers/ce-bad_name"),
    ],
)  # fmt: skip
async def test_a_request_that_is_not_a_cloudevent_is_400_invalid_event(
    client: httpx.AsyncClient, redis_client: redis.Redis, headers: dict[str, str], pointer: str
) -> None:
    headers = {**headers, "content-type": "application/json"}
    body = assert_problem(await client.post("/v1/events", headers=headers, content=b"{}"), 400)
    assert body["type"] == "urn:spillway:problem:invalid-event"
    assert pointer in [e["path"] for e in body["errors"]]  # type: ignore[attr-defined]
    assert redis_client.llen("spillway") == 0


@pytest.mark.parametrize(
    ("envelope", "pointer"),
    [
        ({"id": "1", "source": "/s", "type": ECHO}, "/specversion"),
        ({"specversion": "1.0", "source": "/s", "type": ECHO}, "/id"),
        ({"specversion": "1.0", "id": "1", "source": "/s", "type": ECHO, "data": {},
          "data_base64": "e30="}, "/data_base64"),
        ({"specversion": "1.0", "id": "1", "source": "/s", "type": ECHO, "Upper": 1}, "/Upper"),
    ],
)  # fmt: skip
async def test_a_bad_structured_event_is_400_with_a_pointer(
    client: httpx.AsyncClient, envelope: dict[str, Any], pointer: str
) -> None:
    headers = {"content-type": "application/cloudevents+json"}
    response = await client.post("/v1/events", headers=headers, content=json.dumps(envelope))
    body = assert_problem(response, 400)
    assert pointer in [e["path"] for e in body["errors"]]  # type: ignore[attr-defined]
    not_json = await client.post("/v1/events", headers=headers, content=b"{nope")
    assert assert_problem(not_json, 400)["type"] == "urn:spillway:problem:invalid-event"


async def test_an_event_type_no_function_takes_is_400_which_knative_does_not_retry(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    """400, not 404: knative/eventing knative-v1.22.2 pkg/kncloudevents/retries.go,
    `SelectiveRetry`, retries 404, 408, 409, 429 and 5xx and no other 4xx, so a 400 goes to
    the Trigger's dead-letter sink at once where a 404 would be retried `delivery.retry` times
    for an error that is permanent for this deployment."""
    response = await client.post("/v1/events", **binary(event({}, type="com.example.nobody")))
    body = assert_problem(response, 400)
    assert body["type"] == "urn:spillway:problem:unrouted-event"
    assert "com.example.nobody" in str(body["detail"])
    assert body["errors"][0]["path"] == "/headers/ce-type"  # type: ignore[index]
    mixed = await client.post("/v1/events", **batch(event({}), event({}, type="x.y")))
    assert assert_problem(mixed, 400)["errors"][0]["path"] == "/1/type"  # type: ignore[index]
    assert redis_client.llen("spillway") == 0


async def test_data_that_is_not_json_is_415(client: httpx.AsyncClient) -> None:
    ev = event("plain text", datacontenttype="text/plain")
    body = assert_problem(await client.post("/v1/events", **binary(ev)), 415)
    assert body["type"] == "urn:spillway:problem:unsupported-media-type"
    xml = {"content-type": "application/cloudevents+xml"}
    response = await client.post("/v1/events", headers=xml, content=b"<e/>")
    assert_problem(response, 415)
    assert "application/cloudevents+json" in response.headers["accept-post"]


async def test_a_batch_over_the_limit_is_refused(
    client: httpx.AsyncClient, use_settings: Any
) -> None:
    use_settings(MAX_BATCH=2)
    response = await client.post("/v1/events", **batch(*(event({}) for _ in range(3))))
    assert assert_problem(response, 422)["type"] == "urn:spillway:problem:batch-size"


async def test_a_full_backlog_is_429_for_the_whole_batch(
    client: httpx.AsyncClient, redis_client: redis.Redis, use_settings: Any
) -> None:
    """429 is what Knative retries with backoff (SelectiveRetry): the event is not lost."""
    use_settings(MAX_BACKLOG=2)
    response = await client.post("/v1/events", **batch(*(event({}) for _ in range(3))))
    body = assert_problem(response, 429)
    assert "'spillway'" in str(body["detail"]) and response.headers["retry-after"]
    assert redis_client.llen("spillway") == 0


async def test_the_openapi_document_describes_the_three_modes(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    operation = doc["paths"]["/v1/events"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
    }
    assert {"ce-id", "ce-source", "ce-type", "ce-specversion"} <= {
        p["name"] for p in operation["parameters"]
    }
    assert {"202", "400", "415", "422", "429", "503"} <= set(operation["responses"])


async def test_an_unanswered_event_submit_is_redelivered_onto_the_same_invocation(
    client: httpx.AsyncClient, use_settings: Any, own_redis: Any
) -> None:
    """The 202 promise across a lost reply: the script ran while the API timed out (503
    outcome-unknown, which Knative retries), and the redelivery finds that invocation instead
    of enqueuing a second one."""
    from tests.api.conftest import paused

    use_settings(REDIS_URL=own_redis.url, REDIS_TIMEOUT=0.2)
    warm = await client.post("/v1/events", **binary(event({}, id="warm")))
    assert warm.status_code == 202
    ev = event({"n": 1}, id="lost-reply")
    with paused(own_redis):
        lost = await client.post("/v1/events", **binary(ev))
    body = assert_problem(lost, 503)
    assert body["type"] == "urn:spillway:problem:outcome-unknown"
    again = await client.post("/v1/events", **binary(ev))
    assert again.status_code == 202, again.text
    assert [again.json()["id"]] == body["ids"]
    assert again.headers["idempotent-replayed"] == "true"
    check = redis.Redis.from_url(own_redis.url)
    try:
        assert check.llen("spillway") == 2
    finally:
        check.close()
