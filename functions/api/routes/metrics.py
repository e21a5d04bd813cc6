"""Prometheus exposition, with queue depth, in-flight, the outbox and dead letters refreshed at
scrape time."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from functions.api.deps import SubmitterDep, dead_letter_store
from functions.api.metrics import DEAD_LETTERS, IN_FLIGHT, OUTBOX, QUEUE_DEPTH
from functions.api.resp import ReplyError
from functions.api.submit import RedisUnavailable, Submitter

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(submitter: SubmitterDep) -> Response:
    return Response(await render(submitter), media_type=CONTENT_TYPE_LATEST)


async def render(submitter: Submitter) -> bytes:
    """The exposition text, after reading the figures that live in Redis."""
    try:
        backlog = await submitter.backlog()
    except (RedisUnavailable, ReplyError):
        backlog = None  # keep serving the process's own metrics when Redis is away
    if backlog is not None:
        for queue, depth in backlog.queued.items():
            QUEUE_DEPTH.labels(queue).set(depth)
        IN_FLIGHT.set(backlog.in_flight)
    try:
        ready, retrying = await submitter.outbox()
        OUTBOX.labels("ready").set(ready)
        OUTBOX.labels("retrying").set(retrying)
    except (RedisUnavailable, ReplyError):
        pass  # as the queue depth: the last figures stay
    try:
        DEAD_LETTERS.update(await dead_letter_store(submitter).stats())
    except (RedisUnavailable, ReplyError):
        DEAD_LETTERS.update(None)  # no figures rather than stale ones
    return generate_latest()
