"""`POST /v1/functions/{name}/invocations[/batch]`: submitting, the routes that carry the traffic.

They are plain Starlette routes, matched before FastAPI's routers, because FastAPI's per-request
machinery (included-router matching, parameter and dependency solving, its response wrappers)
was most of the submit path's own time (profiled: docs/benchmarks.md, "Where the time goes"). So
they parse what they need themselves, read the submitter from `app.state` (tests swap it there,
tests/api/conftest.py) and answer with pre-encoded bytes. Errors are raised as `Problem` and
rendered by the app's exception handlers like everywhere else; the OpenAPI document describes
both routes per function (functions/api/openapi.py).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from functions.api import metrics
from functions.api.admission import MemoryFull
from functions.api.auth import Caller, authenticate, require_invoke
from functions.api.callbacks import callback_url
from functions.api.finite import NonFinite, refuse_non_finite, refuse_non_finite_values
from functions.api.hotroute import HotRoute
from functions.api.problems import (
    Problem,
    backlog_full,
    not_enqueued,
    outcome_unknown,
    validation_errors,
)
from functions.api.quotas import (
    RateLimited,
    TenantBacklogFull,
    backlog_headers,
    limited_headers,
)
from functions.api.submit import (
    Accepted,
    BacklogFull,
    IdempotencyConflict,
    OutcomeUnknown,
    RedisUnavailable,
    Submitter,
)
from functions.api.waits import Slot, TooManyWaits
from functions.records import TERMINAL
from functions.registry import FunctionSpec
from functions.settings import Settings

SINGLE_PATH = "/v1/functions/{name}/invocations"
BATCH_PATH = "/v1/functions/{name}/invocations/batch"

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class BatchBody(BaseModel):
    """A batch request: the items, each validated against the function's input model."""

    model_config = ConfigDict(extra="forbid")
    items: list[Any]


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _compact(value: Any) -> bytes:
    """JSON as Starlette's JSONResponse writes every other body: compact, UTF-8, finite."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _spec(submitter: Submitter, name: str) -> FunctionSpec:
    spec = submitter.registry.get(name)
    if spec is None:
        metrics.REJECTED.labels("(unknown)", "unknown_function").inc()
        raise Problem("unknown-function", f"no function named {name!r}")
    return spec


def _submission(request: Request) -> tuple[Submitter, FunctionSpec, str | None]:
    """What both routes check first: the function, a JSON body, the Idempotency-Key."""
    submitter: Submitter = request.app.state.submitter
    spec = _spec(submitter, request.path_params["name"])
    headers = request.headers
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        metrics.REJECTED.labels(spec.name, "unsupported_media_type").inc()
        raise Problem(
            "unsupported-media-type",
            f"expected Content-Type: application/json, got {media_type or 'none'}",
            headers={"Accept-Post": "application/json"},
        )
    key = headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise Problem(
            "invalid-header",
            "Idempotency-Key must be 1-255 visible ASCII characters",
            errors=[
                {
                    "path": "/headers/idempotency-key",
                    "message": "1-255 visible ASCII characters",
                    "type": "string_pattern_mismatch",
                }
            ],
        )
    return submitter, spec, key


def _wait(request: Request, settings: Settings) -> float | None:
    if not request.scope["query_string"]:  # the common case: skip parsing an empty query
        return None
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait):
        _bad_wait(f"wait must be a number of seconds, not {raw[:40]!r}", "float_parsing")
    if not 0 <= wait <= settings.MAX_WAIT:
        _bad_wait(
            f"wait must be from 0 to {settings.MAX_WAIT:g} seconds (SPILLWAY_MAX_WAIT), "
            f"not {raw[:40]}",
            "less_than_equal" if wait > 0 else "greater_than_equal",
        )
    return wait


def _bad_wait(detail: str, error_type: str) -> None:
    raise Problem(
        "invalid-query",
        detail,
        errors=[{"path": "/query/wait", "message": detail, "type": error_type}],
    )


def _non_finite(spec: FunctionSpec, exc: NonFinite) -> Problem:
    """The 422 for a body holding a number JSON cannot carry (functions/api/finite.py)."""
    metrics.REJECTED.labels(spec.name, "invalid").inc()
    return Problem(
        "invalid-input",
        f"invalid JSON for {spec.name!r}: {exc}",
        errors=[{"path": "", "message": str(exc), "type": "json_invalid"}],
    )


async def _enqueue(
    submitter: Submitter,
    spec: FunctionSpec,
    payloads: list[str],
    idempotency_key: str | None,
    caller: Caller,
    callback: str | None = None,
) -> Accepted:
    settings = submitter.settings
    quota = caller.quota
    try:
        accepted = await submitter.submit(
            spec, payloads, idempotency_key=idempotency_key, quota=quota, callback=callback
        )
    except MemoryFull as exc:
        metrics.REJECTED.labels(spec.name, "memory").inc(len(payloads))
        raise not_enqueued(exc, settings) from exc
    except OutcomeUnknown as exc:
        metrics.OUTCOME_UNKNOWN.labels(spec.name).inc(len(payloads))
        raise outcome_unknown(exc.ids, settings.RETRY_AFTER, exc.detail) from exc
    except RedisUnavailable as exc:
        metrics.REJECTED.labels(spec.name, "redis_unavailable").inc(len(payloads))
        raise not_enqueued(exc, settings) from exc
    except BacklogFull as exc:
        metrics.REJECTED.labels(spec.name, "backlog").inc(len(payloads))
        metrics.QUEUE_DEPTH.labels(spec.queue).set(exc.depth)
        raise backlog_full(spec.queue, exc.depth, exc.limit, settings.BACKLOG_RETRY_AFTER) from exc
    except RateLimited as exc:
        assert quota is not None
        metrics.REJECTED.labels(spec.name, "rate_limited").inc(len(payloads))
        detail = (
            f"a batch of {len(payloads)} is larger than this key's burst ({quota.burst})"
            if exc.never
            else f"this key may submit {quota.rate:g} invocations per second (burst "
            f"{quota.burst}); nothing was enqueued"
        )
        raise Problem("rate-limited", detail, headers=limited_headers(quota, exc)) from exc
    except TenantBacklogFull as exc:
        assert quota is not None
        metrics.REJECTED.labels(spec.name, "tenant_backlog").inc(len(payloads))
        raise Problem(
            "tenant-backlog-full",
            f"tenant {quota.tenant!r} has {exc.held} unfinished invocations; this key allows "
            f"{exc.limit}; nothing was enqueued",
            headers=backlog_headers(quota, exc.held, settings.BACKLOG_RETRY_AFTER),
        ) from exc
    except IdempotencyConflict as exc:
        metrics.REJECTED.labels(spec.name, "conflict").inc()
        raise Problem(
            "idempotency-conflict", "this Idempotency-Key was used with a different body"
        ) from exc
    if not accepted.replayed:
        metrics.submitted(spec.name).inc(len(payloads))
        metrics.queue_depth(spec.queue).set(accepted.depth)
    return accepted


def _wait_slot(
    submitter: Submitter, spec: FunctionSpec, caller: Caller, wait: float | None
) -> Slot | None:
    """A held-wait slot for a `?wait=` above 0 (functions/api/waits.py), or the 429 problem."""
    if not wait:
        return None
    try:
        return submitter.waits.take(caller.key_id)
    except TooManyWaits as exc:
        metrics.REJECTED.labels(spec.name, "too_many_waits").inc()
        raise Problem(
            "too-many-waits",
            f"{exc.detail}; nothing was enqueued: submit without ?wait and poll the status URL",
            headers={"Retry-After": "1"},
        ) from exc


async def invoke(request: Request) -> Response:
    """Validate the body against the function's input model and enqueue it (202 + id)."""
    caller = await authenticate(request.headers, request.app.state.submitter)
    submitter, spec, idempotency_key = _submission(request)
    require_invoke(caller, spec.name)
    settings = submitter.settings
    wait = _wait(request, settings)
    callback = callback_url(request.headers, settings)
    body = await request.body()
    try:
        refuse_non_finite(body)
    except NonFinite as exc:
        raise _non_finite(spec, exc) from exc
    try:
        payload = spec.input_model.model_validate_json(body)
    except ValidationError as exc:
        metrics.REJECTED.labels(spec.name, "invalid").inc()
        raise Problem(
            "invalid-input",
            f"invalid input for {spec.name!r}",
            errors=validation_errors(exc.errors(include_input=False)),
        ) from exc
    slot = _wait_slot(submitter, spec, caller, wait)  # refused before anything is enqueued
    try:
        accepted = await _enqueue(
            submitter, spec, [payload.model_dump_json()], idempotency_key, caller, callback
        )
    except BaseException:
        if slot is not None:
            slot.release()
        raise
    invocation_id = accepted.ids[0]
    status_url = f"/v1/invocations/{invocation_id}"
    headers = {"Location": status_url}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    status = "queued"
    if wait:
        try:
            record = await submitter.wait(invocation_id, wait)
        except RedisUnavailable:
            # Accepted already: answer 202 and let the client poll, rather than fail the submit.
            record = None
        finally:
            if slot is not None:
                slot.release()
        if record is not None and record["status"] in TERMINAL:
            return _json(200, _compact(record), headers)
        # Not finished in time: say where it is (running, retrying...), as last read.
        status = record["status"] if record else status
    elif accepted.replayed:
        record = await submitter.read(invocation_id)  # RedisUnavailable: the 503 problem
        status = record["status"] if record else status
    # Nothing here needs escaping (ids are [0-9a-f-], names [a-z0-9-] by the registry's rule,
    # the status a fixed word), so the body is formatted rather than run through json.dumps.
    accepted_body = (
        f'{{"id":"{invocation_id}","function":"{spec.name}",'
        f'"status":"{status}","status_url":"{status_url}"}}'
    )
    return _json(202, accepted_body.encode(), headers)


async def invoke_batch(request: Request) -> Response:
    """All items are validated first; if any is invalid, none is enqueued (422 names them)."""
    caller = await authenticate(request.headers, request.app.state.submitter)
    submitter, spec, idempotency_key = _submission(request)
    require_invoke(caller, spec.name)
    settings = submitter.settings
    if request.scope["query_string"] and "wait" in request.query_params:
        _bad_wait(
            "wait is not supported on batch submits: poll each id at /v1/invocations/{id}, or "
            "submit one invocation with ?wait",
            "unsupported",
        )
    callback = callback_url(request.headers, settings)
    try:
        batch = BatchBody.model_validate_json(await request.body())
        refuse_non_finite_values(batch.items)
    except ValidationError as exc:
        raise Problem(
            "invalid-input",
            'the body must be {"items": [...]}',
            errors=validation_errors(exc.errors(include_input=False)),
        ) from exc
    except NonFinite as exc:
        raise _non_finite(spec, exc) from exc
    if not 1 <= len(batch.items) <= settings.MAX_BATCH:
        detail = f"a batch holds 1 to {settings.MAX_BATCH} items, not {len(batch.items)}"
        raise Problem(
            "batch-size",
            detail,
            errors=[
                {
                    "path": "/items",
                    "message": detail,
                    "type": "too_short" if not batch.items else "too_long",
                }
            ],
        )
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
            "invalid-input",
            f"{len(bad)} of {len(batch.items)} items are invalid (indexes {shown}); "
            "nothing was enqueued",
            invalid_indexes=bad,
            errors=errors,
        )
    accepted = await _enqueue(submitter, spec, payloads, idempotency_key, caller, callback)
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else None
    return _json(202, _compact({"ids": accepted.ids}), headers)


routes: list[BaseRoute] = [
    HotRoute(SINGLE_PATH, invoke, methods=["POST"], include_in_schema=False),
    HotRoute(BATCH_PATH, invoke_batch, methods=["POST"], include_in_schema=False),
]
