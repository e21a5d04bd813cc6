"""The v1 submit contract, against a real Redis."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis
from openapi_spec_validator import validate

from functions import keys
from functions.localredis import free_port
from functions.settings import Settings

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


async def test_submit_answers_202_with_id_location_and_a_queued_record(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    response = await client.post(
        "/v1/functions/process-data/invocations", json={"user_id": 5, "data": "x"}
    )
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "function", "status", "status_url"}
    assert body["function"] == "process-data" and body["status"] == "queued"
    assert response.headers["location"] == body["status_url"] == f"/v1/invocations/{body['id']}"
    assert redis_client.llen("spillway") == 1

    state = (await client.get(body["status_url"])).json()
    assert state["status"] == "queued" and state["attempts"] == 0
    assert state["result"] is None and state["started_at"] is None
    assert state["submitted_at"].endswith("Z")


async def test_the_enqueued_message_carries_the_validated_input(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    # "5" is coerced by the model to 5: the worker receives what was validated.
    await client.post("/v1/functions/process-data/invocations", json={"user_id": "5", "data": "x"})
    message = json.loads(redis_client.lindex("spillway", 0))  # type: ignore[arg-type]
    assert message["headers"]["task"] == "spillway.process-data"
    body = json.loads(base64.b64decode(message["body"]))
    assert body[0] == [{"user_id": 5, "data": "x"}]
    assert message["headers"]["argsrepr"] == f"[<input of {message['headers']['id']}>]"


async def test_unknown_function_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/functions/nope/invocations", json={}), 404)
    assert "nope" in str(body["detail"])


async def test_invalid_input_is_422_with_field_paths(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    response = await client.post(
        "/v1/functions/process-data/invocations", json={"user_id": "x", "extra": 1}
    )
    body = assert_problem(response, 422)
    paths = {e["path"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert paths == {"/user_id", "/data", "/extra"}
    assert redis_client.llen("spillway") == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
async def test_malformed_json_is_422(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/v1/functions/sleep/invocations", content=raw, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/v1/functions/sleep/invocations", content=b'{"seconds": 1}', headers=headers
    )
    assert_problem(response, 415)


async def test_body_over_the_limit_is_413(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    # The limit is enforced by middleware built at import; its default is SPILLWAY_MAX_BODY_BYTES.
    big = b'{"data": "' + b"x" * (1_048_576 + 10) + b'"}'
    response = await client.post(
        "/v1/functions/echo/invocations", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert redis_client.llen("spillway") == 0


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data": "'
        for _ in range(40):
            yield b"x" * 32_768
        yield b'"}'

    response = await client.post(
        "/v1/functions/echo/invocations",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert redis_client.llen("spillway") == 0


async def test_backlog_over_the_limit_is_429_with_retry_after(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], redis_client: redis.Redis
) -> None:
    use_settings(MAX_BACKLOG=2, BACKLOG_RETRY_AFTER=3)
    for _ in range(2):
        ok = await client.post("/v1/functions/echo/invocations", json={})
        assert ok.status_code == 202
    response = await client.post("/v1/functions/echo/invocations", json={})
    body = assert_problem(response, 429)
    assert response.headers["retry-after"] == "3"
    assert "limit is 2" in str(body["detail"])
    assert redis_client.llen("spillway") == 2


async def test_redis_unreachable_is_503_fast_with_retry_after(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RETRY_AFTER=7)
    for path in ("/v1/functions/echo/invocations", "/v1/functions/echo/invocations/batch"):
        body: dict[str, Any] = {"items": [{}]} if path.endswith("batch") else {}
        started = time.monotonic()
        response = await client.post(path, json=body)
        assert time.monotonic() - started < 1.0
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "7"
    started = time.monotonic()
    response = await client.get("/v1/invocations/abc")
    assert time.monotonic() - started < 1.0
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "7"


async def test_wait_over_the_bound_is_422(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> None:
    use_settings(MAX_WAIT=5)
    response = await client.post("/v1/functions/echo/invocations?wait=6", json={})
    assert "from 0 to 5 seconds" in str(assert_problem(response, 422)["detail"])
    assert_problem(await client.post("/v1/functions/echo/invocations?wait=-1", json={}), 422)


async def test_wait_without_a_worker_answers_202_after_the_wait(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post("/v1/functions/echo/invocations?wait=0.3", json={})
    assert response.status_code == 202
    assert 0.3 <= time.monotonic() - started < 1.0


async def test_unknown_invocation_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/invocations/7c9e6679-7425-40de-944b-e07fc1f90ae7"), 404)
    assert_problem(await client.get("/v1/invocations/..%2F..%2Fetc"), 404)


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v2/nothing"), 404)
    assert_problem(await client.delete("/v1/functions"), 405)
    # The submit routes are plain Starlette routes: the same 405, with Allow.
    response = await client.get("/v1/functions/echo/invocations")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


class TestIdempotency:
    async def test_same_key_and_body_returns_the_same_id_without_enqueuing(
        self, client: httpx.AsyncClient, redis_client: redis.Redis
    ) -> None:
        headers = {"Idempotency-Key": "order-42"}
        first = await client.post("/v1/functions/echo/invocations", json={"a": 1}, headers=headers)
        again = await client.post("/v1/functions/echo/invocations", json={"a": 1}, headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        assert redis_client.llen("spillway") == 1

    async def test_same_key_with_another_body_is_409(
        self, client: httpx.AsyncClient, redis_client: redis.Redis
    ) -> None:
        headers = {"Idempotency-Key": "order-43"}
        await client.post("/v1/functions/echo/invocations", json={"a": 1}, headers=headers)
        response = await client.post(
            "/v1/functions/echo/invocations", json={"a": 2}, headers=headers
        )
        assert_problem(response, 409)
        assert redis_client.llen("spillway") == 1

    async def test_keys_are_scoped_per_function_and_last_while_unfinished(
        self, client: httpx.AsyncClient, redis_client: redis.Redis, settings: Settings
    ) -> None:
        headers = {"Idempotency-Key": "k"}
        a = await client.post("/v1/functions/echo/invocations", json={}, headers=headers)
        b = await client.post(
            "/v1/functions/sleep/invocations", json={"seconds": 0}, headers=headers
        )
        assert a.json()["id"] != b.json()["id"]
        # Neither the key nor the record expires while the invocation waits; the worker sets
        # both TTLs when it finishes (tests/worker/test_inflight.py).
        key = keys.idempotency_key("", "echo", "k")
        assert redis_client.ttl(key) == -1
        assert redis_client.hget(key, "ttl") == str(settings.IDEMPOTENCY_TTL).encode()
        assert redis_client.ttl(keys.record_key("", a.json()["id"])) == -1

    async def test_a_malformed_key_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/functions/echo/invocations", json={}, headers={"Idempotency-Key": "a b"}
        )
        assert_problem(response, 422)


class TestBatch:
    async def test_batch_enqueues_every_item_in_one_call(
        self, client: httpx.AsyncClient, redis_client: redis.Redis
    ) -> None:
        items = [{"user_id": i, "data": str(i)} for i in range(50)]
        response = await client.post(
            "/v1/functions/process-data/invocations/batch", json={"items": items}
        )
        assert response.status_code == 202
        ids = response.json()["ids"]
        assert len(ids) == len(set(ids)) == 50
        assert redis_client.llen("spillway") == 50
        state = (await client.get(f"/v1/invocations/{ids[7]}")).json()
        assert state["status"] == "queued" and state["function"] == "process-data"

    async def test_one_invalid_item_rejects_the_whole_batch(
        self, client: httpx.AsyncClient, redis_client: redis.Redis
    ) -> None:
        items = [{"seconds": 1}, {"seconds": -1}, {"seconds": 2}, {"nope": 1}]
        response = await client.post("/v1/functions/sleep/invocations/batch", json={"items": items})
        body = assert_problem(response, 422)
        assert body["invalid_indexes"] == [1, 3]
        paths = {e["path"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert "/items/1/seconds" in paths and "/items/3/nope" in paths
        assert redis_client.llen("spillway") == 0
        assert not redis_client.keys("spillway:inv:*")

    @pytest.mark.parametrize("body", [{"items": []}, {"items": "x"}, {"things": []}, [1]])
    async def test_malformed_batches_are_422(self, client: httpx.AsyncClient, body: object) -> None:
        assert_problem(await client.post("/v1/functions/echo/invocations/batch", json=body), 422)

    async def test_batch_over_the_bound_is_422(
        self, client: httpx.AsyncClient, use_settings: Callable[..., Settings]
    ) -> None:
        use_settings(MAX_BATCH=3)
        response = await client.post(
            "/v1/functions/echo/invocations/batch", json={"items": [{}] * 4}
        )
        assert "1 to 3 items" in str(assert_problem(response, 422)["detail"])

    async def test_batch_that_would_overflow_the_backlog_is_429_and_enqueues_nothing(
        self,
        client: httpx.AsyncClient,
        use_settings: Callable[..., Settings],
        redis_client: redis.Redis,
    ) -> None:
        use_settings(MAX_BACKLOG=5)
        response = await client.post(
            "/v1/functions/echo/invocations/batch", json={"items": [{}] * 6}
        )
        assert_problem(response, 429)
        assert redis_client.llen("spillway") == 0

    async def test_batch_idempotency(
        self, client: httpx.AsyncClient, redis_client: redis.Redis
    ) -> None:
        headers = {"Idempotency-Key": "batch-1"}
        body = {"items": [{"a": 1}, {"a": 2}]}
        first = await client.post(
            "/v1/functions/echo/invocations/batch", json=body, headers=headers
        )
        again = await client.post(
            "/v1/functions/echo/invocations/batch", json=body, headers=headers
        )
        assert first.json()["ids"] == again.json()["ids"]
        assert redis_client.llen("spillway") == 2


async def test_catalog_lists_every_function_with_schemas(client: httpx.AsyncClient) -> None:
    functions = {f["name"]: f for f in (await client.get("/v1/functions")).json()["functions"]}
    assert {"echo", "sleep", "cpu", "process-data"} <= set(functions)
    sleep = functions["sleep"]
    assert sleep["queue"] == "spillway"
    assert sleep["input_schema"]["properties"]["seconds"]["maximum"] == 300
    assert functions["process-data"]["output_schema"]["required"] == ["status", "result"]


async def test_openapi_documents_one_operation_per_function(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    op = doc["paths"]["/v1/functions/cpu/invocations"]["post"]
    schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["properties"]["milliseconds"]["maximum"] == 60_000
    assert {"200", "202", "404", "413", "415", "422", "429", "503"} <= set(op["responses"])
    assert op["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InvocationAccepted"
    }
    problem = op["responses"]["429"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert doc["components"]["schemas"][problem.rsplit("/", 1)[1]]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    assert {p["name"] for p in op["parameters"]} == {"Idempotency-Key", "X-Callback-Url", "wait"}
    assert "/v1/functions/{name}/invocations" not in doc["paths"]
    batch = doc["paths"]["/v1/functions/echo/invocations/batch"]["post"]
    assert batch["operationId"] == "invoke_echo_batch"
    assert (
        "BatchAccepted"
        in batch["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
    )
    # One document every OpenAPI tool accepts: valid against the OpenAPI 3.1 schema, and every
    # $ref resolves.
    validate(doc)


async def test_every_model_in_the_openapi_document_describes_itself(
    client: httpx.AsyncClient,
) -> None:
    """Class docstrings become the schemas' descriptions, which clients and docs tools show."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    ours = {name: s for name, s in schemas.items() if name not in ("HTTPValidationError",
            "ValidationError")}  # fmt: skip
    undocumented = sorted(name for name, s in ours.items() if not s.get("description"))
    assert undocumented == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"x": NaN}',
        b'{"x": Infinity}',
        b'{"x": -Infinity}',
        b'{"x": 1e400}',
        b'{"x": [1, {"y": -1E+400}]}',
        b'{"x": 1' + b"0" * 400 + b".5}",
        b'{"x": ' + b"1" * 250 + b"e60}",  # neither a 309-digit run nor a 3-digit exponent
    ],
)
async def test_numbers_json_cannot_carry_are_422_never_null(
    client: httpx.AsyncClient, redis_client: redis.Redis, raw: bytes
) -> None:
    """pydantic reads these as NaN or infinity and would dump them as null."""
    headers = {"content-type": "application/json"}
    response = await client.post("/v1/functions/echo/invocations", content=raw, headers=headers)
    body = assert_problem(response, 422)
    assert body["type"] == "urn:spillway:problem:invalid-input"
    errors: list[dict[str, str]] = body["errors"]  # type: ignore[assignment]
    # The whole body: RFC 6901's pointer to the root is the empty string.
    assert [(e["path"], e["type"]) for e in errors] == [("", "json_invalid")]
    batch = await client.post(
        "/v1/functions/echo/invocations/batch",
        content=b'{"items": [{"ok": 1}, ' + raw + b"]}",
        headers=headers,
    )
    assert_problem(batch, 422)
    assert redis_client.llen("spillway") == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"s": "NaN and Infinity are words", "e": "1e400"},
        {"big": 10**400, "small": 1e-300, "max": 1.7976931348623157e308},
    ],
)
async def test_finite_numbers_and_look_alikes_in_strings_pass(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    response = await client.post("/v1/functions/echo/invocations", json=payload)
    assert response.status_code == 202, response.text
