"""API keys on the in-process API (functions/api/auth.py): 401 and 403 problems, scopes, the
open routes, and the OpenAPI scheme. Real Redis; keys made with the store the CLI uses."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import redis

from functions.apikeys.model import new_secret
from tests.support.apikeys import bearer

pytestmark = pytest.mark.anyio

ECHO = "/v1/functions/echo/invocations"


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer realm="spillway"')
    assert response.json()["type"] == "urn:spillway:problem:unauthorized"


async def test_every_v1_route_needs_a_key(auth_client: httpx.AsyncClient) -> None:
    for method, path in [
        ("POST", ECHO),
        ("POST", ECHO + "/batch"),
        ("GET", "/v1/invocations/abc"),
        ("GET", "/v1/functions"),
        ("GET", "/v1/dead-letters"),
        ("POST", "/v1/dead-letters/purge"),
    ]:
        response = await auth_client.request(method, path, json={"a": 1})
        assert_unauthorized(response)
        assert "error=" not in response.headers["www-authenticate"]  # RFC 6750 3.1: no key


async def test_probes_metrics_and_docs_stay_open(auth_client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"):
        assert (await auth_client.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer nonsense",
        "Bearer spw_0123456789abcdef_short",
        "Bearer spw_" + "x" * 8000,
        "Bearer spw_0123456789abcdef_" + "é" * 43,
        "Token spw_0123456789abcdef_" + "a" * 43,
    ],
)
async def test_malformed_headers_are_401_problems(
    auth_client: httpx.AsyncClient, header: str
) -> None:
    response = await auth_client.post(
        ECHO, json={}, headers={b"authorization": header.encode("utf-8")}
    )
    assert_unauthorized(response)


async def test_unknown_id_and_wrong_secret_answer_alike(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    token = make_key()
    key_id = token.split("_")[1]
    wrong = await auth_client.post(ECHO, json={}, headers=bearer(f"spw_{key_id}_{new_secret()}"))
    unknown = await auth_client.post(
        ECHO, json={}, headers=bearer(f"spw_{'f' * 16}_{new_secret()}")
    )
    assert_unauthorized(wrong)
    assert_unauthorized(unknown)
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


async def test_revoked_and_expired_keys_are_401(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    revoked = make_key()
    redis_client.hset(f"spillway:auth:key:{revoked.split('_')[1]}", "revoked", "1")
    expired = make_key(expires=time.time() - 1)
    for token, words in ((revoked, "revoked"), (expired, "expired")):
        response = await auth_client.post(ECHO, json={}, headers=bearer(token))
        assert_unauthorized(response)
        assert words in response.json()["detail"]


async def test_a_valid_key_submits_and_reads(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str], redis_client: redis.Redis
) -> None:
    token = make_key("acme")
    response = await auth_client.post(ECHO, json={"a": 1}, headers=bearer(token))
    assert response.status_code == 202, response.text
    invocation = response.json()["id"]
    assert redis_client.hget(f"spillway:inv:{invocation}", "tenant") == b"acme"
    read = await auth_client.get(f"/v1/invocations/{invocation}", headers=bearer(token))
    assert read.status_code == 200
    assert (await auth_client.get("/v1/functions", headers=bearer(token))).status_code == 200


async def test_scopes_are_403_problems(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    reader = make_key(scopes=("read",))
    echo_only = make_key(scopes=("invoke",), functions=("echo",))
    cases = [
        (reader, "POST", ECHO, "invoke"),
        (echo_only, "POST", "/v1/functions/sleep/invocations", "invoke"),
        (echo_only, "GET", "/v1/invocations/abc", "read"),
        (reader, "GET", "/v1/dead-letters", "admin"),
        (reader, "POST", "/v1/dead-letters/purge", "admin"),
    ]
    for token, method, path, scope in cases:
        response = await auth_client.request(
            method, path, json={"seconds": 0}, headers=bearer(token)
        )
        assert response.status_code == 403, (path, response.text)
        assert response.json()["type"] == "urn:spillway:problem:forbidden"
        assert f'scope="{scope}"' in response.headers["www-authenticate"]
    ok = await auth_client.post(ECHO, json={}, headers=bearer(echo_only))
    assert ok.status_code == 202


async def test_the_admin_scope_opens_the_dead_letters(
    auth_client: httpx.AsyncClient, make_key: Callable[..., str]
) -> None:
    admin = make_key("ops", scopes=("admin",))
    response = await auth_client.get("/v1/dead-letters", headers=bearer(admin))
    assert response.status_code == 200, response.text


async def test_the_openapi_document_declares_the_bearer_scheme(
    auth_client: httpx.AsyncClient,
) -> None:
    doc = (await auth_client.get("/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            expected: list[dict[str, list[str]]] = (
                [{"bearer": []}] if path.startswith("/v1/") else []
            )
            assert operation["security"] == expected, path
            if path.startswith("/v1/"):
                assert "401" in operation["responses"], path
