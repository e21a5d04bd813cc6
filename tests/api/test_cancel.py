"""`DELETE /v1/invocations/{id}` against a real Redis: what can be cancelled, and what it
leaves behind (the worker side, skipping the message: tests/e2e/test_cancel.py)."""

from __future__ import annotations

import httpx
import pytest
import redis

from tests.api.test_invocations import assert_problem

pytestmark = pytest.mark.anyio


async def _submit(client: httpx.AsyncClient, **headers: str) -> str:
    response = await client.post("/v1/functions/echo/invocations", json={}, headers=headers)
    assert response.status_code == 202
    invocation_id: str = response.json()["id"]
    return invocation_id


async def test_a_queued_invocation_is_cancelled_and_its_key_released(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    invocation_id = await _submit(client, **{"Idempotency-Key": "cancel-me"})
    response = await client.delete(f"/v1/invocations/{invocation_id}")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "cancelled" and record["finished_at"]
    assert [e["event"] for e in record["history"]] == ["cancelled"]
    assert record["history"][0]["detail"] == {"by": "api", "was": "queued"}
    assert (await client.get(f"/v1/invocations/{invocation_id}")).json() == record
    # Finished: the record and the Idempotency-Key now expire (SPILLWAY_RESULT_TTL and
    # SPILLWAY_IDEMPOTENCY_TTL), and the message stays queued until a worker skips it.
    assert 0 < redis_client.ttl(f"spillway:inv:{invocation_id}") <= 3600
    idem = "spillway:idem:echo:cancel-me"
    assert redis_client.hget(idem, "pending") == b"0" and redis_client.ttl(idem) > 0
    assert redis_client.llen("spillway") == 1
    # Again: the same record (DELETE is idempotent), not an error.
    again = await client.delete(f"/v1/invocations/{invocation_id}")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_a_retrying_invocation_can_be_cancelled(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    invocation_id = await _submit(client)
    redis_client.hset(f"spillway:inv:{invocation_id}", "status", "retrying")
    response = await client.delete(f"/v1/invocations/{invocation_id}")
    assert response.status_code == 200
    assert response.json()["history"][0]["detail"]["was"] == "retrying"


@pytest.mark.parametrize("status", ["running", "succeeded", "failed"])
async def test_a_started_or_finished_invocation_is_409(
    client: httpx.AsyncClient, redis_client: redis.Redis, status: str
) -> None:
    invocation_id = await _submit(client)
    redis_client.hset(f"spillway:inv:{invocation_id}", "status", status)
    body = assert_problem(await client.delete(f"/v1/invocations/{invocation_id}"), 409)
    assert body["type"] == "urn:spillway:problem:not-cancellable"
    assert body["code"] == status
    assert redis_client.hget(f"spillway:inv:{invocation_id}", "status") == status.encode()


@pytest.mark.parametrize("invocation_id", ["0b6c3b0e-0000-4000-8000-000000000000", "bad id!"])
async def test_an_unknown_invocation_is_404(client: httpx.AsyncClient, invocation_id: str) -> None:
    response = await client.delete(f"/v1/invocations/{invocation_id}")
    assert assert_problem(response, 404)["type"] == "urn:spillway:problem:unknown-invocation"
