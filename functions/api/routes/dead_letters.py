"""`/v1/dead-letters`: see, fix and replay what could not finish (functions/deadletters/).

Every route depends on `AdminAccess` (functions/api/deps.py), where API keys' admin scope will be
checked. The store is the one `spillway dlq` uses, so both front ends answer alike.

A dead letter's id is its invocation id when it has one; it is looked up in every queue, and
`?queue=` narrows the lookup (needed only if the same id was filed in two queues). Replay reuses
the invocation id: a new attempt of the same invocation (functions/deadletters/store.py says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from functions.api.deps import DeadLettersDep, RegistryDep
from functions.api.problems import Problem
from functions.api.schemas import (
    BulkReplayed,
    DeadLetter,
    DeadLetterPage,
    DeadLetterReason,
    DeadLetterSelection,
    ProblemDetails,
    Purged,
    ReplayAccepted,
    ReplayRequest,
)
from functions.deadletters.errors import (
    Ambiguous,
    DeadLetterError,
    InvalidPayload,
    NotReplayable,
)
from functions.deadletters.store import MAX_PAGE, Filters

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

_PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 404, 409, 422, 503), _PROBLEM)
DeadLetterId = Annotated[
    str, Path(pattern=r"^[^\s/]{1,200}$", description="The invocation id, or the random id")
]
QueueParam = Annotated[
    str | None, Query(max_length=200, description="The queue it is in (default: any)")
]


@contextmanager
def _answers() -> Iterator[None]:
    """The store's refusals as problems: urn:spillway:problem:<slug>."""
    try:
        yield
    except DeadLetterError as exc:
        extra: dict[str, Any] = {}
        if isinstance(exc, Ambiguous):
            extra["queues"] = exc.queues
        elif isinstance(exc, NotReplayable):
            extra["code"] = exc.code
        elif isinstance(exc, InvalidPayload):
            extra["errors"] = exc.errors
        raise Problem(exc.slug, str(exc), status=exc.status, **extra) from exc


def _selection(body: DeadLetterSelection) -> Filters:
    filters = Filters(body.queue, body.function, body.reason)
    if filters.empty and not body.all:
        raise Problem(
            "invalid-input",
            'name a queue, function or reason, or set "all": true to take every dead letter',
        )
    return filters


@router.get("", response_model=DeadLetterPage, responses=_ERRORS, summary="List dead letters")
async def list_dead_letters(
    store: DeadLettersDep,
    queue: QueueParam = None,
    function: Annotated[str | None, Query(max_length=200)] = None,
    reason: DeadLetterReason | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> dict[str, Any]:
    """Newest first in each queue, queues in name order. Each call examines a bounded number of
    entries, so a page may be short and still have a `next_cursor`."""
    with _answers():
        page = await store.list(Filters(queue, function, reason), limit=limit, cursor=cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/replay",
    status_code=202,
    response_model=BulkReplayed,
    responses=_ERRORS,
    summary="Replay every matching dead letter",
)
async def replay_dead_letters(body: DeadLetterSelection, store: DeadLettersDep) -> dict[str, Any]:
    """Each replayed entry is a new attempt of its invocation; entries that cannot be replayed
    stay and are counted by why. Repeating the call replays only what is left."""
    with _answers():
        result = await store.replay_matching(_selection(body), limit=body.limit)
    return {
        "replayed": len(result.replayed),
        "invocation_ids": result.replayed,
        "skipped": result.skipped,
        "more": result.more,
    }


@router.post("/purge", response_model=Purged, responses=_ERRORS, summary="Delete dead letters")
async def purge_dead_letters(body: DeadLetterSelection, store: DeadLettersDep) -> dict[str, Any]:
    with _answers():
        result = await store.purge(_selection(body), limit=body.limit)
    return {"deleted": result.deleted, "more": result.more}


@router.get(
    "/{dead_letter_id}", response_model=DeadLetter, responses=_ERRORS, summary="Read a dead letter"
)
async def get_dead_letter(
    dead_letter_id: DeadLetterId, store: DeadLettersDep, queue: QueueParam = None
) -> dict[str, Any]:
    """The whole entry, with the message as it was on the queue."""
    with _answers():
        return await store.get(dead_letter_id, queue)


@router.post(
    "/{dead_letter_id}/replay",
    status_code=202,
    response_model=ReplayAccepted,
    responses=_ERRORS,
    summary="Replay a dead letter",
)
async def replay_dead_letter(
    dead_letter_id: DeadLetterId,
    store: DeadLettersDep,
    registry: RegistryDep,
    queue: QueueParam = None,
    body: ReplayRequest | None = None,
) -> JSONResponse:
    """Queue the invocation again as a new attempt (same id), with its original message or a
    corrected `payload`. 409 when it cannot be replayed (`code` says why)."""
    payload = body.payload if body is not None else None
    with _answers():
        invocation_id = await store.replay(
            dead_letter_id, queue, payload=payload, registry=registry
        )
    status_url = f"/v1/invocations/{invocation_id}"
    return JSONResponse(
        {"id": invocation_id, "status": "queued", "status_url": status_url},
        status_code=202,
        headers={"Location": status_url},
    )


@router.delete(
    "/{dead_letter_id}",
    status_code=204,
    response_class=Response,
    responses=_ERRORS,
    summary="Delete a dead letter",
)
async def delete_dead_letter(
    dead_letter_id: DeadLetterId, store: DeadLettersDep, queue: QueueParam = None
) -> Response:
    with _answers():
        await store.delete(dead_letter_id, queue)
    return Response(status_code=204)
