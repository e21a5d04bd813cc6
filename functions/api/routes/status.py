"""`GET /v1/invocations/{id}`: an invocation's state, the `status_url` every submit answers with."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.api.auth import owns
from functions.api.deps import ReadAccess, SubmitterDep
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
    return JSONResponse(record)
