"""`X-Callback-Url` at submit: checked, stored with the record, shown with its delivery state."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from functions import keys
from functions.settings import Settings
from tests.api.test_invocations import assert_problem

pytestmark = pytest.mark.anyio
URL = "/v1/functions/echo/invocations"


async def test_a_callback_url_is_stored_with_the_record_and_shown_pending(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    target = "https://hooks.example.com/spillway?job=7"
    response = await client.post(URL, json={"a": 1}, headers={"X-Callback-Url": target})
    assert response.status_code == 202, response.text
    invocation_id = response.json()["id"]
    assert redis_client.hget(keys.record_key("", invocation_id), "callback") == target.encode()
    record = (await client.get(f"/v1/invocations/{invocation_id}")).json()
    assert record["callback"] == {
        "url": target,
        "state": "pending",
        "attempts": 0,
        "last_status": None,
        "error": None,
        "delivered_at": None,
    }


async def test_every_item_of_a_batch_carries_the_callback(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    target = "http://hooks.example.com/b"
    response = await client.post(
        f"{URL}/batch", json={"items": [{"a": 1}, {"b": 2}]}, headers={"X-Callback-Url": target}
    )
    assert response.status_code == 202, response.text
    for invocation_id in response.json()["ids"]:
        assert redis_client.hget(keys.record_key("", invocation_id), "callback") == target.encode()


async def test_without_the_header_the_record_has_no_callback(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json={"a": 1})
    record = (await client.get(f"/v1/invocations/{response.json()['id']}")).json()
    assert "callback" not in record


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "is empty"),
        ("/relative/path", "absolute http"),
        ("ftp://example.com/x", "absolute http"),
        ("javascript:alert(1)", "absolute http"),
        ("http://", "has no host"),
        ("https://user:secret@example.com/x", "user info"),
        ("https://example.com/" + "a" * 2100, "longer than 2048"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://exa mple.com/", "without spaces"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:192.168.0.1]/", "private"),
        ("http://100.64.0.1/", "CGNAT"),
    ],
)
async def test_a_bad_callback_url_is_a_422_problem_and_nothing_is_enqueued(
    client: httpx.AsyncClient, redis_client: redis.Redis, url: str, why: str
) -> None:
    for path, body in ((URL, {"a": 1}), (f"{URL}/batch", {"items": [{"a": 1}]})):
        response = await client.post(path, json=body, headers={"X-Callback-Url": url})
        problem = assert_problem(response, 422)
        assert problem["type"] == "urn:spillway:problem:invalid-callback-url"
        assert why in str(problem["detail"]), problem["detail"]
        errors = problem["errors"]
        assert isinstance(errors, list) and errors[0]["path"] == "/headers/x-callback-url"
    assert redis_client.llen(keys.queue_key("", "spillway")) == 0
    assert not redis_client.keys("spillway:inv:*")


async def test_allowed_networks_let_a_literal_private_address_through(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(CALLBACK_ALLOW_NETWORKS=["127.0.0.0/8"])
    response = await client.post(
        URL, json={"a": 1}, headers={"X-Callback-Url": "http://127.0.0.1:9/hook"}
    )
    assert response.status_code == 202, response.text


async def test_metrics_show_what_waits_in_the_outbox(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    """A sender that is down shows as deliveries `ready` and not taken (an alert watches it)."""
    redis_client.lpush(keys.outbox_key(""), "a", "b", "c")
    redis_client.zadd(keys.outbox_retry_key(""), {"d": 1})
    text = (await client.get("/metrics")).text
    assert 'spillway_outbox_deliveries{state="ready"} 3.0' in text
    assert 'spillway_outbox_deliveries{state="retrying"} 1.0' in text
