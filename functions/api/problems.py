"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from functions.api.submit import RedisUnavailable

log = logging.getLogger("spillway.api")

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem document; `extra` adds members such as `errors`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extra = extra


def queue_unavailable(detail: str, retry_after: int) -> Problem:
    """The 503 for a Redis that could not serve (any route; submits say nothing was enqueued)."""
    return Problem(
        503,
        detail,
        type_="urn:spillway:problem:queue-unavailable",
        headers={"Retry-After": str(retry_after)},
    )


def outcome_unknown(ids: list[str], retry_after: int, why: str) -> Problem:
    """The 503 for a submit whose fate is unknown: sent to Redis and never answered, or
    enqueued without the durability asked for.

    The body names the ids it was given, so the producer can GET them once Redis answers
    again instead of resubmitting blindly (which without an Idempotency-Key could run twice).
    """
    return Problem(
        503,
        f"{why}: GET each id after Retry-After; 404 means it was not enqueued. Resubmitting "
        "with the same Idempotency-Key is safe",
        type_="urn:spillway:problem:outcome-unknown",
        headers={"Retry-After": str(retry_after)},
        ids=ids,
    )


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def validation_errors(
    errors: Any, *, loc_prefix: tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    """Pydantic errors as `{"path": "/a/0/b", "message", "type"}`, input values left out.

    The offending input is not echoed back: it may be large or carry secrets.
    """
    out = []
    for err in errors:
        loc = loc_prefix + tuple(err.get("loc", ()))
        out.append(
            {
                "path": "/" + "/".join(str(part) for part in loc),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return out


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.detail,
        type_=exc.type,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.method} {request.url.path}"
    return problem_response(
        exc.status_code, detail, instance=request.url.path, headers=dict(exc.headers or {})
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "the request is invalid",
        instance=request.url.path,
        errors=validation_errors(exc.errors()),
    )


async def _redis_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    # A route that reads through the Submitter need not catch this itself.
    retry_after = request.app.state.submitter.settings.RETRY_AFTER
    return await _problem_handler(
        request, queue_unavailable("the queue is unavailable", retry_after)
    )


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # Never a stack trace on the wire; the log has it.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal error", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(RedisUnavailable, _redis_unavailable_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
