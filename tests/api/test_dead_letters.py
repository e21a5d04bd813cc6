"""`/v1/dead-letters` through the real app and a real Redis (entries filed by the worker's
scripts, tests/support/dead_letters.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import get_args

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from functions.api.deps import Admin, require_admin
from functions.api.main import app
from functions.api.problems import Problem
from functions.api.schemas import DeadLetterReason
from functions.deadletters.store import REASONS
from tests.support.dead_letters import dl_inflight, fail, junk
from tests.worker.test_inflight import QUEUE

__all__ = ["dl_inflight", "fail", "junk"]

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:spillway:problem:{slug}", body
    return body


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    failed = [fail() for _ in range(3)]
    junk_id = junk("not json")
    first = await client.get("/v1/dead-letters", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [i["id"] for i in body["items"]] == [junk_id, failed[2]]
    second = await client.get(
        "/v1/dead-letters", params={"limit": 2, "cursor": body["next_cursor"]}
    )
    assert [i["id"] for i in second.json()["items"]] == [failed[1], failed[0]]
    assert second.json()["next_cursor"] is None

    only = await client.get("/v1/dead-letters", params={"reason": "malformed", "queue": QUEUE})
    assert [i["id"] for i in only.json()["items"]] == [junk_id]
    by_function = await client.get("/v1/dead-letters", params={"function": "echo"})
    item = by_function.json()["items"][0]
    assert item["invocation_id"] == failed[2] and item["reason"] == "retries_exhausted"
    assert item["error"] == {"type": "ValueError", "message": "bad input"}


async def test_bad_listing_parameters_are_problems(client: httpx.AsyncClient) -> None:
    _problem(
        await client.get("/v1/dead-letters", params={"cursor": "garbage"}), 400, "invalid-cursor"
    )
    response = await client.get("/v1/dead-letters", params={"reason": "sad"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    response = await client.get("/v1/dead-letters", params={"limit": 0})
    assert response.status_code == 422


async def test_show_one_with_its_message(
    client: httpx.AsyncClient, fail: Callable[..., str]
) -> None:
    invocation_id = fail(body='{"n": 7}')
    response = await client.get(f"/v1/dead-letters/{invocation_id}")
    assert response.status_code == 200
    entry = response.json()
    assert entry["queue"] == QUEUE and entry["invocation_id"] == invocation_id
    assert invocation_id in entry["message"] and entry["worker"]
    narrowed = await client.get(f"/v1/dead-letters/{invocation_id}", params={"queue": QUEUE})
    assert narrowed.json() == entry
    _problem(
        await client.get(f"/v1/dead-letters/{invocation_id}", params={"queue": "other"}),
        404,
        "unknown-dead-letter",
    )


async def test_replay_answers_202_with_the_invocation_it_runs_as(
    client: httpx.AsyncClient, fail: Callable[..., str], redis_client: redis.Redis
) -> None:
    invocation_id = fail()
    response = await client.post(f"/v1/dead-letters/{invocation_id}/replay")
    assert response.status_code == 202, response.text
    assert response.json() == {
        "id": invocation_id,
        "status": "queued",
        "status_url": f"/v1/invocations/{invocation_id}",
    }
    assert response.headers["location"] == f"/v1/invocations/{invocation_id}"
    record = (await client.get(f"/v1/invocations/{invocation_id}")).json()
    assert record["status"] == "queued" and record["dead_letter"] is None
    (event,) = record["history"]
    assert event["event"] == "replayed" and event["detail"]["error"] == "ValueError: bad input"
    assert event["detail"]["by"] == "api"
    assert redis_client.llen(QUEUE) == 1
    # Replayed once: the entry is gone.
    again = await client.post(f"/v1/dead-letters/{invocation_id}/replay")
    _problem(again, 404, "unknown-dead-letter")


async def test_what_cannot_be_replayed_is_a_409_that_says_why(
    client: httpx.AsyncClient, junk: Callable[[str], str]
) -> None:
    junk_id = junk("{nope")
    body = _problem(await client.post(f"/v1/dead-letters/{junk_id}/replay"), 409, "not-replayable")
    assert body["code"] == "no_invocation" and "delete it" in str(body["detail"])
    assert (await client.delete(f"/v1/dead-letters/{junk_id}")).status_code == 204
    _problem(await client.delete(f"/v1/dead-letters/{junk_id}"), 404, "unknown-dead-letter")


async def test_replay_with_a_payload_is_validated(
    client: httpx.AsyncClient, fail: Callable[..., str], redis_client: redis.Redis
) -> None:
    invocation_id = fail()
    url = f"/v1/dead-letters/{invocation_id}/replay"
    bad = await client.post(url, json={"payload": "not an object"})
    body = _problem(bad, 422, "invalid-input")
    assert body["errors"], body
    assert (await client.post(url, json={"payload": {"n": 2}, "extra": 1})).status_code == 422
    good = await client.post(url, json={"payload": {"n": 2}})
    assert good.status_code == 202, good.text
    (queued,) = redis_client.lrange(QUEUE, 0, -1)
    assert json.loads(base64.b64decode(json.loads(queued)["body"]))[0] == [{"n": 2}]


async def test_bulk_replay_and_purge_need_a_filter_or_all(
    client: httpx.AsyncClient, fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    failed = {fail() for _ in range(3)}
    junk("junk")
    _problem(await client.post("/v1/dead-letters/replay", json={}), 422, "invalid-input")
    _problem(await client.post("/v1/dead-letters/purge", json={}), 422, "invalid-input")
    response = await client.post("/v1/dead-letters/replay", json={"all": True, "limit": 10})
    assert response.status_code == 202
    body = response.json()
    assert set(body["invocation_ids"]) == failed and body["replayed"] == 3
    assert body["skipped"] == {"no_invocation": 1} and body["more"] is False
    purged = await client.post("/v1/dead-letters/purge", json={"reason": "malformed"})
    assert purged.json() == {"deleted": 1, "more": False}
    assert (await client.get("/v1/dead-letters")).json() == {"items": [], "next_cursor": None}


async def test_every_route_depends_on_the_admin_check(
    client: httpx.AsyncClient, fail: Callable[..., str]
) -> None:
    """The auth issue plugs API keys in at `require_admin`; every dead-letter route must pass
    through it (here overridden to refuse)."""

    async def refuse() -> Admin:
        raise Problem("http-error", "admin scope required", status=403)

    invocation_id = fail()
    app.dependency_overrides[require_admin] = refuse
    try:
        calls = [
            client.get("/v1/dead-letters"),
            client.get(f"/v1/dead-letters/{invocation_id}"),
            client.post(f"/v1/dead-letters/{invocation_id}/replay"),
            client.post("/v1/dead-letters/replay", json={"all": True}),
            client.post("/v1/dead-letters/purge", json={"all": True}),
            client.delete(f"/v1/dead-letters/{invocation_id}"),
        ]
        for call in calls:
            assert (await call).status_code == 403
    finally:
        app.dependency_overrides.pop(require_admin)
    paths = app.openapi()["paths"]
    operations = [m for p, ops in paths.items() if p.startswith("/v1/dead-letters") for m in ops]
    assert len(operations) == len(calls)


async def test_redis_down_is_the_503_problem(
    client: httpx.AsyncClient, use_settings: Callable[..., object]
) -> None:
    use_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT=0.2)
    response = await client.get("/v1/dead-letters")
    _problem(response, 503, "queue-unavailable")


def test_the_reasons_are_the_stores() -> None:
    assert get_args(DeadLetterReason) == REASONS


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("spillway_dead_letter")
    }


async def test_metrics_come_from_the_counts_in_redis(
    client: httpx.AsyncClient, fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    failed = [fail() for _ in range(3)]
    junk("junk")
    await client.post(f"/v1/dead-letters/{failed[0]}/replay")
    samples = _samples((await client.get("/metrics")).text)
    held = "spillway_dead_letters"
    assert (
        samples[(held, (("function", "echo"), ("queue", QUEUE), ("reason", "retries_exhausted")))]
        == 2
    )
    assert (
        samples[(held, (("function", "(unknown)"), ("queue", QUEUE), ("reason", "malformed")))] == 1
    )
    filed = "spillway_dead_lettered_total"
    assert samples[(filed, (("queue", QUEUE), ("reason", "retries_exhausted")))] == 3
    assert samples[(filed, (("queue", QUEUE), ("reason", "malformed")))] == 1
    assert samples[("spillway_dead_letters_shed_total", (("queue", QUEUE),))] == 0
    assert samples[("spillway_dead_letter_bytes", (("queue", QUEUE),))] > 0
