"""Prometheus exposition, with queue depth and in-flight refreshed at scrape time."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from functions import keys
from functions.api.deps import RegistryDep, SubmitterDep
from functions.api.metrics import IN_FLIGHT, QUEUE_DEPTH
from functions.api.submit import RedisUnavailable

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(submitter: SubmitterDep, registry: RegistryDep) -> Response:
    prefix = submitter.settings.KEY_PREFIX
    queues = registry.queues()
    commands = [("LLEN", keys.queue_key(prefix, queue)) for queue in queues]
    commands.append(("HLEN", keys.unacked_key(prefix)))
    try:
        values = await submitter.call(submitter.redis.pipeline(commands))
    except RedisUnavailable:
        values = None  # keep serving the process's own metrics when Redis is away
    if values is not None and all(isinstance(v, int) for v in values):
        for queue, depth in zip(queues, values, strict=False):
            QUEUE_DEPTH.labels(queue).set(depth)
        IN_FLIGHT.set(values[-1])
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
