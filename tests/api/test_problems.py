"""The API as a producer reads it: one problem `type` scheme, RFC 6901 pointers, compact JSON,
and HTTP metrics that count what producers do (issue 10, "The API, as a producer reads it")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from functions.api.problems import TYPE_PREFIX, TYPES, pointer
from functions.localredis import free_port
from functions.settings import Settings

pytestmark = pytest.mark.anyio
SINGLE = "/v1/functions/echo/invocations"
BATCH = "/v1/functions/echo/invocations/batch"
JSON = {"content-type": "application/json"}


def compact(body: bytes) -> bool:
    """Whether `body` is written as compactly as JSON can be (no space after , or :)."""
    value = json.loads(body)
    return body == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def _every_problem(client: httpx.AsyncClient) -> list[tuple[str, httpx.Response]]:
    """One request for each way a producer can get a problem, but Redis failures."""
    calls: list[tuple[str, Any]] = [
        ("invalid-input", client.post(SINGLE, content=b"{not json", headers=JSON)),
        ("invalid-input", client.post("/v1/functions/sleep/invocations", json={"seconds": -1})),
        ("invalid-input", client.post(BATCH, json={"items": [{}, 1]})),
        ("invalid-input", client.post(SINGLE, content=b'{"x": NaN}', headers=JSON)),
        ("batch-size", client.post(BATCH, json={"items": []})),
        ("invalid-query", client.post(SINGLE + "?wait=abc", json={})),
        ("invalid-query", client.post(BATCH + "?wait=1", json={"items": [{}]})),
        ("invalid-header", client.post(SINGLE, json={}, headers={"Idempotency-Key": "a b"})),
        ("unsupported-media-type", client.post(SINGLE, content=b"{}")),
        (
            "body-too-large",
            client.post(SINGLE, content=b"[" + b" " * 1_048_576 + b"]", headers=JSON),
        ),
        ("unknown-function", client.post("/v1/functions/nope/invocations", json={})),
        ("unknown-invocation", client.get("/v1/invocations/7c9e6679-7425-40de-944b-e07fc1f90ae7")),
        ("not-found", client.get("/v2/nothing")),
        ("method-not-allowed", client.delete("/v1/functions")),
        ("method-not-allowed", client.get(SINGLE)),
    ]
    out = []
    for slug, call in calls:
        out.append((slug, await call))
    return out


async def test_every_problem_has_a_spillway_type_and_the_documented_status(
    client: httpx.AsyncClient,
) -> None:
    for slug, response in await _every_problem(client):
        assert response.headers["content-type"] == "application/problem+json", response.text
        body = response.json()
        assert body["type"] == TYPE_PREFIX + slug, (slug, body)
        assert body["status"] == response.status_code == TYPES[slug][0], (slug, body)
        assert body["title"] and body["detail"] and body["instance"]
        assert compact(response.content), response.content
        for error in body.get("errors", []):
            assert set(error) == {"path", "message", "type"}, error
            assert error["path"] == "" or error["path"].startswith("/"), error


def test_every_slug_is_a_urn_path_segment() -> None:
    for slug in TYPES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", slug), slug


async def test_the_whole_body_is_the_empty_pointer_and_names_are_escaped(
    client: httpx.AsyncClient,
) -> None:
    """RFC 6901: "" is the whole document; "~" and "/" in a member name are "~0" and "~1"."""
    response = await client.post(SINGLE, content=b"{not json", headers=JSON)
    assert [e["path"] for e in response.json()["errors"]] == [""]
    array = await client.post("/v1/functions/sleep/invocations", json=[1])
    assert [e["path"] for e in array.json()["errors"]] == [""]
    assert pointer(("a/b", "c~d", 0)) == "/a~1b/c~0d/0"
    assert pointer(()) == ""


async def test_wait_says_what_is_wrong_with_it(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(MAX_WAIT=5)
    cases = {
        "abc": ("a number of seconds, not 'abc'", "float_parsing"),
        "nan": ("a number of seconds, not 'nan'", "float_parsing"),
        "6": ("from 0 to 5 seconds", "less_than_equal"),
        "-1": ("from 0 to 5 seconds", "greater_than_equal"),
    }
    for raw, (words, error_type) in cases.items():
        body = (await client.post(f"{SINGLE}?wait={raw}", json={})).json()
        assert body["type"] == TYPE_PREFIX + "invalid-query"
        assert words in body["detail"], body
        assert body["errors"] == [
            {"path": "/query/wait", "message": body["detail"], "type": error_type}
        ]


async def test_a_batch_refuses_wait_instead_of_ignoring_it(
    client: httpx.AsyncClient, redis_client: Any
) -> None:
    response = await client.post(BATCH + "?wait=5", json={"items": [{}]})
    assert response.status_code == 422
    assert "not supported on batch" in response.json()["detail"]
    assert redis_client.llen("spillway") == 0


async def test_batch_size_errors_point_at_the_items(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(MAX_BATCH=3)
    cases: list[tuple[list[dict[str, int]], str]] = [([], "too_short"), ([{}] * 4, "too_long")]
    for items, error_type in cases:
        body = (await client.post(BATCH, json={"items": items})).json()
        assert body["type"] == TYPE_PREFIX + "batch-size"
        assert body["errors"] == [{"path": "/items", "message": body["detail"], "type": error_type}]


async def test_every_json_body_is_compact(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], redis_client: Any
) -> None:
    accepted = await client.post(SINGLE, json={"a": [1, 2], "é": "ü"})
    batch = await client.post(BATCH, json={"items": [{"a": 1}, {"b": 2}]})
    invocation_id = accepted.json()["id"]
    # A finished record's result, as the worker writes it (the ?wait 200 body is checked with
    # a real worker in tests/e2e/test_lifecycle.py).
    redis_client.hset(f"spillway:inv:{invocation_id}", "result", '{"a": [1, 2], "é": "ü"}')
    bodies = [
        accepted,
        batch,
        await client.get(f"/v1/invocations/{invocation_id}"),
        await client.get("/v1/functions"),
        await client.get("/readyz"),
        await client.get("/healthz"),
        await client.post(SINGLE, content=b"{", headers=JSON),
    ]
    for response in bodies:
        assert compact(response.content), response.content
    use_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert compact((await client.post(SINGLE, json={})).content)


def _requests(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("spillway_http_requests_total", labels) or 0.0


async def test_a_413_for_a_declared_length_counts_under_its_route(
    client: httpx.AsyncClient,
) -> None:
    before = _requests("POST", "/v1/functions/{name}/invocations", "413")
    unmatched = _requests("POST", "unmatched", "413")
    response = await client.post(SINGLE, content=b"[" + b" " * 1_048_576 + b"]", headers=JSON)
    assert response.status_code == 413
    assert "content-length" in response.request.headers
    assert _requests("POST", "/v1/functions/{name}/invocations", "413") == before + 1
    assert _requests("POST", "unmatched", "413") == unmatched


async def test_scrapes_of_metrics_are_not_counted(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await client.get("/metrics")).status_code == 200
    assert _requests("GET", "/metrics", "200") == 0
    before = _requests("GET", "/healthz", "200")
    await client.get("/healthz")
    assert _requests("GET", "/healthz", "200") == before + 1
