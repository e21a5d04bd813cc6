"""Submitting invocations and reading their state."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.api import metrics
from functions.api.deps import SettingsDep, SubmitterDep, hot_submitter
from functions.api.problems import Problem, validation_errors
from functions.api.schemas import BatchAccepted, Invocation, InvocationAccepted, ProblemDetails
from functions.api.submit import (
    Accepted,
    BacklogFull,
    IdempotencyConflict,
    RedisUnavailable,
    Submitter,
)
from functions.registry import FunctionSpec, Registry
from functions.settings import Settings

router = APIRouter(prefix="/v1", tags=["invocations"])

_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
    for code in (404, 409, 413, 415, 422, 429, 503)
}

# The two submit routes take no FastAPI-declared parameters or dependencies: solving them costs as
# much per request as the rest of the submit path (profiled: docs/benchmarks.md). They read the
# header and query themselves (documented in OpenAPI below) and the submitter from app.state
# (deps.hot_submitter); every other route uses the Annotated dependencies.
_IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "description": "Same key and body within the TTL returns the first id without enqueuing.",
}
_WAIT_PARAM = {
    "name": "wait",
    "in": "query",
    "required": False,
    "schema": {"type": "number", "minimum": 0},
    "description": "Seconds to wait for the result (at most SPILLWAY_MAX_WAIT).",
}
_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Any]


def _spec(registry: Registry, name: str) -> FunctionSpec:
    spec = registry.get(name)
    if spec is None:
        metrics.REJECTED.labels("(unknown)", "unknown_function").inc()
        raise Problem(
            404, f"no function named {name!r}", type_="urn:spillway:problem:unknown-function"
        )
    return spec


def _require_json(request: Request, spec: FunctionSpec) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        metrics.REJECTED.labels(spec.name, "unsupported_media_type").inc()
        raise Problem(
            415,
            f"expected Content-Type: application/json, got {media_type or 'none'}",
            headers={"Accept-Post": "application/json"},
        )


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise Problem(422, "Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def _wait(request: Request, settings: Settings) -> float | None:
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= settings.MAX_WAIT:  # also refuses nan
        raise Problem(
            422,
            f"wait must be a number of seconds from 0 to at most {settings.MAX_WAIT:g}",
            errors=[{"path": "/query/wait", "message": "out of range", "type": "value_error"}],
        )
    return wait


def _submission(request: Request) -> tuple[Submitter, FunctionSpec, str | None]:
    """What both submit routes check first: the function, a JSON body, the Idempotency-Key."""
    submitter = hot_submitter(request)
    spec = _spec(submitter.registry, request.path_params["name"])
    _require_json(request, spec)
    return submitter, spec, _idempotency_key(request)


async def _enqueue(
    submitter: Submitter,
    settings: Settings,
    spec: FunctionSpec,
    payloads: list[str],
    idempotency_key: str | None,
) -> Accepted:
    try:
        accepted = await submitter.submit(spec, payloads, idempotency_key=idempotency_key)
    except RedisUnavailable as exc:
        metrics.REJECTED.labels(spec.name, "redis_unavailable").inc(len(payloads))
        raise Problem(
            503,
            "the queue is unavailable; nothing was enqueued",
            type_="urn:spillway:problem:queue-unavailable",
            headers={"Retry-After": str(settings.RETRY_AFTER)},
        ) from exc
    except BacklogFull as exc:
        metrics.REJECTED.labels(spec.name, "backlog").inc(len(payloads))
        metrics.QUEUE_DEPTH.labels(spec.queue).set(exc.depth)
        limit = spec.max_backlog or settings.MAX_BACKLOG
        raise Problem(
            429,
            f"queue {spec.queue!r} holds {exc.depth} invocations; the limit is {limit}",
            type_="urn:spillway:problem:backlog-full",
            headers={"Retry-After": str(settings.BACKLOG_RETRY_AFTER)},
        ) from exc
    except IdempotencyConflict as exc:
        metrics.REJECTED.labels(spec.name, "conflict").inc()
        raise Problem(
            409,
            "this Idempotency-Key was used with a different body",
            type_="urn:spillway:problem:idempotency-conflict",
        ) from exc
    if not accepted.replayed:
        metrics.SUBMITTED.labels(spec.name).inc(len(payloads))
        metrics.QUEUE_DEPTH.labels(spec.queue).set(accepted.depth)
    return accepted


@router.post(
    "/functions/{name}/invocations",
    status_code=202,
    response_model=InvocationAccepted,
    responses={200: {"model": Invocation}, **_PROBLEMS},
    summary="Invoke a function",
    openapi_extra={"parameters": [_NAME_PARAM, _IDEMPOTENCY_PARAM, _WAIT_PARAM]},
)
async def invoke(request: Request) -> JSONResponse:
    """Validate the body against the function's input model and enqueue it (202 + id)."""
    submitter, spec, idempotency_key = _submission(request)
    settings = submitter.settings
    wait = _wait(request, settings)
    body = await request.body()
    try:
        payload = spec.input_model.model_validate_json(body)
    except ValidationError as exc:
        metrics.REJECTED.labels(spec.name, "invalid").inc()
        raise Problem(
            422,
            f"invalid input for {spec.name!r}",
            type_="urn:spillway:problem:invalid-input",
            errors=validation_errors(exc.errors(include_input=False)),
        ) from exc
    accepted = await _enqueue(
        submitter, settings, spec, [payload.model_dump_json()], idempotency_key
    )
    invocation_id = accepted.ids[0]
    status_url = f"/v1/invocations/{invocation_id}"
    headers = {"Location": status_url}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    if wait:
        finished = await _finished(submitter, settings, invocation_id, wait)
        if finished is not None:
            return JSONResponse(finished, status_code=200, headers=headers)
    status = "queued"
    if accepted.replayed:
        record = await _read(submitter, settings, invocation_id)
        status = record["status"] if record else status
    return JSONResponse(
        {"id": invocation_id, "function": spec.name, "status": status, "status_url": status_url},
        status_code=202,
        headers=headers,
    )


@router.post(
    "/functions/{name}/invocations/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=_PROBLEMS,
    summary="Invoke a function for many inputs at once",
    openapi_extra={"parameters": [_NAME_PARAM, _IDEMPOTENCY_PARAM]},
)
async def invoke_batch(request: Request) -> JSONResponse:
    """All items are validated first; if any is invalid, none is enqueued (422 names them)."""
    submitter, spec, idempotency_key = _submission(request)
    settings = submitter.settings
    try:
        batch = BatchBody.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Problem(
            422,
            'the body must be {"items": [...]}',
            type_="urn:spillway:problem:invalid-input",
            errors=validation_errors(exc.errors(include_input=False)),
        ) from exc
    if not 1 <= len(batch.items) <= settings.MAX_BATCH:
        raise Problem(422, f"a batch holds 1 to {settings.MAX_BATCH} items, not {len(batch.items)}")
    payloads: list[str] = []
    errors: list[dict[str, Any]] = []
    bad: list[int] = []
    for index, item in enumerate(batch.items):
        try:
            payloads.append(spec.input_model.model_validate(item).model_dump_json())
        except ValidationError as exc:
            bad.append(index)
            errors.extend(
                validation_errors(exc.errors(include_input=False), loc_prefix=("items", index))
            )
    if bad:
        metrics.REJECTED.labels(spec.name, "invalid").inc(len(batch.items))
        shown = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
        raise Problem(
            422,
            f"{len(bad)} of {len(batch.items)} items are invalid (indexes {shown}); "
            "nothing was enqueued",
            type_="urn:spillway:problem:invalid-input",
            invalid_indexes=bad,
            errors=errors,
        )
    accepted = await _enqueue(submitter, settings, spec, payloads, idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else None
    return JSONResponse({"ids": accepted.ids}, status_code=202, headers=headers)


@router.get(
    "/invocations/{invocation_id}",
    response_model=Invocation,
    responses={404: _PROBLEMS[404], 503: _PROBLEMS[503]},
    summary="Read an invocation's state",
)
async def get_invocation(
    invocation_id: str, submitter: SubmitterDep, settings: SettingsDep
) -> JSONResponse:
    record = await _read(submitter, settings, invocation_id) if _ID.match(invocation_id) else None
    if record is None:
        raise Problem(
            404,
            f"no invocation {invocation_id!r} (never submitted, or expired)",
            type_="urn:spillway:problem:unknown-invocation",
        )
    return JSONResponse(record)


async def _read(
    submitter: Submitter, settings: Settings, invocation_id: str
) -> dict[str, Any] | None:
    try:
        return await submitter.read(invocation_id)
    except RedisUnavailable as exc:
        raise _unavailable(settings) from exc


async def _finished(
    submitter: Submitter, settings: Settings, invocation_id: str, wait: float
) -> dict[str, Any] | None:
    try:
        return await submitter.wait(invocation_id, wait)
    except RedisUnavailable:
        # Accepted already: answer 202 and let the client poll, rather than fail the submit.
        return None


def _unavailable(settings: Settings) -> Problem:
    return Problem(
        503,
        "the queue is unavailable",
        type_="urn:spillway:problem:queue-unavailable",
        headers={"Retry-After": str(settings.RETRY_AFTER)},
    )
