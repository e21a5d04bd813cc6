"""Reading an invocation's state (the submit routes are in routes/invoke.py)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.api.deps import SubmitterDep
from functions.api.problems import Problem, queue_unavailable
from functions.api.schemas import Invocation, ProblemDetails
from functions.api.submit import RedisUnavailable, Submitter

router = APIRouter(prefix="/v1", tags=["invocations"])

_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}


async def read_record(submitter: Submitter, invocation_id: str) -> dict[str, Any] | None:
    """The invocation's record, or None if there is none; 503 when Redis does not answer."""
    try:
        return await submitter.read(invocation_id)
    except RedisUnavailable as exc:
        raise queue_unavailable("the queue is unavailable", submitter.settings.RETRY_AFTER) from exc


@router.get(
    "/invocations/{invocation_id}",
    response_model=Invocation,
    responses={404: _PROBLEM, 503: _PROBLEM},
    summary="Read an invocation's state",
)
async def get_invocation(invocation_id: str, submitter: SubmitterDep) -> JSONResponse:
    record = await read_record(submitter, invocation_id) if _ID.match(invocation_id) else None
    if record is None:
        raise Problem(
            404,
            f"no invocation {invocation_id!r} (never submitted, or expired)",
            type_="urn:spillway:problem:unknown-invocation",
        )
    return JSONResponse(record)
