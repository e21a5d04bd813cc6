"""Tenant isolation: an invocation belongs to its key's tenant, other tenants cannot tell it
exists, and Idempotency-Keys are per tenant."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from tests.support.apikeys import bearer

pytestmark = pytest.mark.anyio

ECHO = "/v1/functions/echo/invocations"


async def test_another_tenants_invocation_is_a_404_like_a_missing_one(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    acme, other, admin = make_key("acme"), make_key("other"), make_key("ops", scopes=("admin",))
    submitted = await auth_client.post(ECHO, json={"secret": 1}, headers=bearer(acme))
    invocation = submitted.json()["id"]
    missing = invocation[:-4] + ("0000" if not invocation.endswith("0000") else "1111")
    theirs = await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(other))
    never = await auth_client.get(f"/v1/invocations/{missing}", headers=bearer(other))
    assert theirs.status_code == never.status_code == 404
    assert dict(theirs.headers) == dict(never.headers)
    assert theirs.text.replace(invocation, "ID") == never.text.replace(missing, "ID")
    own = await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(acme))
    assert own.status_code == 200
    seen_by_admin = await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(admin))
    assert seen_by_admin.status_code == 200


async def test_idempotency_keys_are_per_tenant(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    acme, other = make_key("acme"), make_key("other")
    same = {"Idempotency-Key": "order-42"}
    first = await auth_client.post(ECHO, json={"n": 1}, headers={**bearer(acme), **same})
    # Another tenant, same key, another body: its own submission, no 409, no id of acme's.
    theirs = await auth_client.post(ECHO, json={"n": 2}, headers={**bearer(other), **same})
    assert first.status_code == theirs.status_code == 202, theirs.text
    assert first.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    again = await auth_client.post(ECHO, json={"n": 1}, headers={**bearer(acme), **same})
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    conflict = await auth_client.post(ECHO, json={"n": 3}, headers={**bearer(acme), **same})
    assert conflict.status_code == 409
    batch = await auth_client.post(
        ECHO + "/batch", json={"items": [{"n": 1}]}, headers={**bearer(other), **same}
    )
    assert batch.status_code == 409  # other's own key, used with another body: its own 409
    assert (
        redis_client.exists(
            "spillway:idem:@acme:echo:order-42", "spillway:idem:@other:echo:order-42"
        )
        == 2
    )


EVENT = {
    "ce-specversion": "1.0",
    "ce-id": "evt-1",
    "ce-source": "/tests/tenants",
    "ce-type": "dev.spillway.echo",
    "content-type": "application/json",
}


async def test_events_need_a_key_and_belong_to_its_tenant(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    """POST /v1/events authenticates like every /v1 route (SPILLWAY_EVENTS_AUTH=key): the
    invocation is the key's tenant's, and the same (source, id) from another tenant is another
    event, never a replay of the first's id."""
    acme, other = make_key("acme"), make_key("other")
    anonymous = await auth_client.post("/v1/events", content=b"{}", headers=EVENT)
    assert anonymous.status_code == 401, anonymous.text
    not_echo = make_key("acme", functions=("sleep",))
    refused = await auth_client.post(
        "/v1/events", content=b"{}", headers={**EVENT, **bearer(not_echo)}
    )
    assert refused.status_code == 403, refused.text
    first = await auth_client.post("/v1/events", content=b"{}", headers={**EVENT, **bearer(acme)})
    again = await auth_client.post("/v1/events", content=b"{}", headers={**EVENT, **bearer(acme)})
    theirs = await auth_client.post("/v1/events", content=b"{}", headers={**EVENT, **bearer(other)})
    assert first.status_code == again.status_code == theirs.status_code == 202
    assert again.json()["id"] == first.json()["id"] != theirs.json()["id"]
    invocation = first.json()["id"]
    assert (
        await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(other))
    ).status_code == 404
    own = await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(acme))
    assert own.status_code == 200 and own.json()["event"]["id"] == "evt-1"


async def test_events_can_be_left_open_for_a_broker(
    client: httpx.AsyncClient, use_settings: Callable[..., object]
) -> None:
    """A Knative Broker sends no credentials: SPILLWAY_EVENTS_AUTH=off takes its events while
    every other /v1 route still needs a key."""
    use_settings(AUTH="required", EVENTS_AUTH="off")
    taken = await client.post("/v1/events", content=b"{}", headers=EVENT)
    assert taken.status_code == 202, taken.text
    direct = await client.post(ECHO, json={})
    assert direct.status_code == 401
