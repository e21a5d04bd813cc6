"""RFC 9457 problem details for every error the API returns, with one `type` scheme.

Every problem's `type` is `urn:spillway:problem:<slug>`, one slug per kind of error, so a client
can branch on it without parsing `detail` (RFC 9457 section 3.1.1: a URI that identifies the
problem type; a URN need not resolve). The README's "Problem types" table lists each slug in
TYPES; tests/test_docs.py checks the two agree.
"""

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
TYPE_PREFIX = "urn:spillway:problem:"
# slug -> (status, when). The status of `http-error` is the one Starlette raised.
TYPES: dict[str, tuple[int, str]] = {
    "invalid-input": (422, "the body is not JSON, holds a number JSON cannot carry (NaN, "
                      "Infinity, 1e400), or does not fit the function's input; `errors[]` "
                      "points at each problem"),
    "batch-size": (422, "a batch holds no item or more than `SPILLWAY_MAX_BATCH`"),
    "invalid-query": (422, "a query parameter is invalid (`?wait=`)"),
    "invalid-header": (422, "a header is invalid (`Idempotency-Key`)"),
    "invalid-callback-url": (422, "the `X-Callback-Url` header is not an absolute http(s) URL "
                             "of at most 2048 characters without user info, or names an "
                             "address callbacks may not reach"),
    "invalid-request": (422, "a parameter of a route other than the submits is invalid"),
    "unsupported-media-type": (415, "the body is not `application/json`"),
    "body-too-large": (413, "the body is over `SPILLWAY_MAX_BODY_BYTES`"),
    "unknown-function": (404, "no function of that name is registered"),
    "unknown-invocation": (404, "no invocation with that id (never submitted, or expired)"),
    "not-found": (404, "no such route"),
    "method-not-allowed": (405, "the route does not take that method (`Allow` lists those it "
                           "takes)"),
    "not-cancellable": (409, "the invocation has started or finished (`code` says which "
                        "status): only a queued or retrying one can be cancelled, or a running "
                        "one of an `interruptible` function"),
    "idempotency-conflict": (409, "the `Idempotency-Key` was used with another body"),
    "backlog-full": (429, "the function's queue is at its backlog limit; `Retry-After`"),
    "unauthorized": (401, "no API key, or one that is malformed, unknown, revoked or expired; "
                     "`WWW-Authenticate: Bearer`"),
    "forbidden": (403, "the key lacks the scope (`invoke`, `read`, `admin`) or may not invoke "
                  "that function"),
    "rate-limited": (429, "the key is over its rate (`--rate`, `--burst`); nothing was "
                     "enqueued; `Retry-After`, `RateLimit-Policy`, `RateLimit`"),
    "tenant-backlog-full": (429, "the tenant's unfinished invocations are at the key's "
                            "`--max-backlog`; nothing was enqueued; `Retry-After`, "
                            "`RateLimit-Policy`, `RateLimit`"),
    "too-many-waits": (429, "too many `?wait=` requests are held for this key or this API "
                       "process; nothing was enqueued; `Retry-After`"),
    "request-timeout": (408, "the body did not arrive within `SPILLWAY_BODY_TIMEOUT`"),
    "memory-pressure": (503, "Redis is above `SPILLWAY_MEMORY_ADMISSION` of its memory; "
                        "nothing was enqueued; `Retry-After`"),
    "queue-unavailable": (503, "Redis could not take the request; for a submit, nothing was "
                          "enqueued; `Retry-After`"),
    "outcome-unknown": (503, "the submit was sent and not confirmed; `ids` lists the ids to "
                        "check with `GET`; `Retry-After`"),
    "unknown-dead-letter": (404, "no dead letter with that id (in that `queue`)"),
    "ambiguous-dead-letter": (409, "dead letters with that id are in several queues; "
                              "`queues` lists them: name one with `?queue=`"),
    "not-replayable": (409, "the dead letter cannot be replayed as it is; `code` says why"),
    "invalid-cursor": (400, "the `cursor` is not one a listing gave"),
    "dead-letter-error": (400, "another refusal of the dead-letter store"),
    "invalid-event": (400, "not a CloudEvent 1.0 (`POST /v1/events`): a required attribute "
                      "missing or empty, another `specversion`, a bad attribute name; `errors[]` "
                      "points at each"),
    "unrouted-event": (400, "no function takes events of that `type` (from that `source`); "
                       "400 so that Knative Eventing dead-letters it at once instead of "
                       "retrying"),
    "internal-error": (500, "a bug; the API's log has the traceback"),
    "http-error": (400, "any other HTTP-level error, with the status Starlette gives it"),
}  # fmt: skip
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}


def problem_type(slug: str) -> str:
    if slug not in TYPES:
        raise ValueError(f"unknown problem slug {slug!r}: add it to problems.TYPES and the README")
    return TYPE_PREFIX + slug


class Problem(Exception):
    """Raise to answer with a problem document of a kind in TYPES; `extra` adds members such
    as `errors`."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.type = problem_type(slug)
        self.status = status or TYPES[slug][0]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def queue_unavailable(detail: str, retry_after: int) -> Problem:
    """The 503 for a Redis that could not serve (any route; submits say nothing was enqueued)."""
    return Problem("queue-unavailable", detail, headers={"Retry-After": str(retry_after)})


def not_enqueued(exc: Exception, settings: Any) -> Problem:
    """The 503 for a submit refused before Redis wrote anything: Redis above its memory
    admission (functions/api/admission.py, MemoryFull) or unable to serve (RedisUnavailable)."""
    if isinstance(exc, RedisUnavailable):
        return queue_unavailable(
            "the queue is unavailable; nothing was enqueued", settings.RETRY_AFTER
        )
    return Problem(
        "memory-pressure",
        f"{exc}; nothing was enqueued",
        headers={"Retry-After": str(settings.RETRY_AFTER)},
    )


def backlog_full(queue: str, depth: int, limit: int, retry_after: int) -> Problem:
    """The 429 for a queue whose backlog limit a submit would pass (nothing was enqueued)."""
    return Problem(
        "backlog-full",
        f"queue {queue!r} holds {depth} invocations; the limit is {limit}",
        headers={"Retry-After": str(retry_after)},
    )


def outcome_unknown(ids: list[str], retry_after: int, why: str) -> Problem:
    """The 503 for a submit whose fate is unknown: sent to Redis and never answered, or
    enqueued without the durability asked for.

    The body names the ids it was given, so the producer can GET them once Redis answers
    again instead of resubmitting blindly (which without an Idempotency-Key could run twice).
    """
    return Problem(
        "outcome-unknown",
        f"{why}: GET each id after Retry-After; 404 means it was not enqueued. Resubmitting "
        "with the same Idempotency-Key is safe",
        headers={"Retry-After": str(retry_after)},
        ids=ids,
    )


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def pointer(loc: tuple[str | int, ...]) -> str:
    """An RFC 6901 JSON pointer: "" is the whole document, "~" and "/" in names escaped."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def validation_errors(
    errors: Any, *, loc_prefix: tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    """Pydantic errors as `{"path": "/a/0/b", "message", "type"}`, input values left out.

    The offending input is not echoed back: it may be large or carry secrets.
    """
    return [
        {
            "path": pointer(loc_prefix + tuple(err.get("loc", ()))),
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        for err in errors
    ]


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.type.removeprefix(TYPE_PREFIX),
        exc.detail,
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
        exc.status_code,
        _HTTP_SLUGS.get(exc.status_code, "http-error"),
        detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "invalid-request",
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
    return problem_response(500, "internal-error", "internal error", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(RedisUnavailable, _redis_unavailable_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
