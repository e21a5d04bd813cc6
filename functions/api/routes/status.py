"""`/v1/invocations/{id}`: an invocation's state (GET, the `status_url` every submit answers
with), and cancelling one that has not started (DELETE; functions/api/cancel.py)."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.api.auth import owns, require, require_invoke
from functions.api.cancel import cancel
from functions.api.deps import CallerDep, ReadAccess, SubmitterDep
from functions.api.position import queue_position
from functions.api.problems import Problem
from functions.api.schemas import Invocation, ProblemDetails

router = APIRouter(prefix="/v1", tags=["invocations"])

_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}


@router.get(
    "/invocations/{invocation_id}",
    response_model=Invocation,
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM, 503: _PROBLEM},
    summary="Read an invocation's state",
)
async def get_invocation(
    invocation_id: str, submitter: SubmitterDep, caller: ReadAccess
) -> JSONResponse:
    # RedisUnavailable becomes the 503 problem (functions/api/problems.py).
    record, tenant = (
        await submitter.read_owned(invocation_id) if _ID.match(invocation_id) else (None, "")
    )
    # Another tenant's invocation is exactly an unknown one: an id alone proves nothing.
    if record is None or not owns(caller, tenant):
        raise Problem(
            "unknown-invocation", f"no invocation {invocation_id!r} (never submitted, or expired)"
        )
    if record["status"] == "queued":
        record["queue"] = await queue_position(submitter, invocation_id, record["function"])
    return JSONResponse(record)


@router.delete(
    "/invocations/{invocation_id}",
    response_model=Invocation,
    responses={
        202: {"model": Invocation, "description": "Running and interruptible: asked to stop"},
        401: _PROBLEM,
        403: _PROBLEM,
        404: _PROBLEM,
        409: _PROBLEM,
        503: _PROBLEM,
    },
    summary="Cancel an invocation",
    description="A queued (or retrying) invocation becomes `cancelled` (200): its message is "
    "skipped, unrun, when a worker reaches it. A running one is interrupted only if its "
    "function is `interruptible`: 202, and the record says `cancelled` once it stopped; "
    "otherwise 409 `not-cancellable` with `code` running. A finished one is 409 too (`code` "
    "its status). Cancelling a cancelled one again answers its record.",
)
async def cancel_invocation(
    invocation_id: str, submitter: SubmitterDep, caller: CallerDep
) -> JSONResponse:
    require(caller, "invoke")
    # One read for the function (is it interruptible?), then the script decides atomically.
    record, tenant = (
        await submitter.read_owned(invocation_id) if _ID.match(invocation_id) else (None, "")
    )
    outcome = "missing"
    if record is not None and owns(caller, tenant):  # another tenant's: as unknown as a read
        require_invoke(caller, record["function"])
        outcome = await cancel(submitter, invocation_id, record["function"])
    if outcome == "missing":
        raise Problem(
            "unknown-invocation", f"no invocation {invocation_id!r} (never submitted, or expired)"
        )
    if outcome not in ("cancelled", "cancelling"):
        raise Problem(
            "not-cancellable",
            f"invocation {invocation_id!r} is {outcome}: only a queued or retrying one can be "
            "cancelled" + (" (its function is not interruptible)" if outcome == "running" else ""),
            code=outcome,
        )
    record = await submitter.read(invocation_id)
    if record is None:  # expired between the two calls: it was cancelled all the same
        raise Problem("unknown-invocation", f"no invocation {invocation_id!r} (expired)")
    return JSONResponse(record, status_code=202 if outcome == "cancelling" else 200)
