"""The Spillway API: a module-level FastAPI `app` composed from routers.

Readiness is the cold-start gate under Knative: `/readyz` answers 503 until the lifespan has
built the Redis pool and the submitter, and then only while Redis answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from functions import registry as registry_module
from functions.api import keyfile, metrics_port, problems
from functions.api.deadline import BodyDeadlineMiddleware
from functions.api.limits import BodyLimitMiddleware
from functions.api.metrics import HttpMetricsMiddleware
from functions.api.openapi import build_openapi
from functions.api.resp import Client
from functions.api.routes import (
    catalog,
    dead_letters,
    docs,
    event_dead_letters,
    events,
    health,
    metrics,
    status,
    submissions,
)
from functions.api.submit import Submitter
from functions.apikeys import specs
from functions.settings import get_settings, redact_url

log = logging.getLogger("spillway.api")
settings = get_settings()
registry = registry_module.load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)


def redis_client(url: str, timeout: float) -> Client:
    # Every call also runs under the request deadline (SPILLWAY_REDIS_TIMEOUT), so a down or
    # hung Redis answers 503 within it; connections are opened lazily on first use.
    return Client(url, connect_timeout=timeout, max_connections=256)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    redis = redis_client(settings.REDIS_URL, settings.REDIS_TIMEOUT)
    app.state.submitter = submitter = Submitter(redis, settings, registry)
    scrape = None
    if settings.API_METRICS_PORT:
        scrape = await metrics_port.start(
            settings.HOST, settings.API_METRICS_PORT, lambda: metrics.render(submitter)
        )
    loading = None
    if settings.KEYS_FILE:  # read by `spillway api` first, which reports a broken file
        found = specs.read(settings.KEYS_FILE)
        loading = asyncio.create_task(keyfile.load(submitter, found))
    app.state.initialised = True
    if settings.AUTH == "off":
        log.warning(
            "SPILLWAY_AUTH=off: no API keys, tenants or quotas; anyone who reaches the port "
            "may call it"
        )
    log.info(
        "spillway api ready to serve %d functions via %s",
        len(registry),
        redact_url(settings.REDIS_URL),
    )
    try:
        yield
    finally:
        app.state.initialised = False
        if scrape is not None:
            scrape.close()
        if loading is not None:
            loading.cancel()
        await redis.aclose()


# FastAPI's native OpenTelemetry looks up the global providers on every request unless it is
# switched off here (fastapi/telemetry/_asgi.py, NativeTelemetry.enabled).
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

app = FastAPI(
    title="Spillway",
    version="1.0.0",
    description="Invoke typed Python functions asynchronously: 202 + an id, then poll.",
    lifespan=lifespan,
    telemetry=None if settings.OPENTELEMETRY else _NO_TELEMETRY,
    # Routes match in order: the submit routes first, they carry the traffic.
    routes=[*submissions.routes, *events.routes],
    # /docs and /redoc come from routes/docs.py, with their assets served here, not by a CDN.
    docs_url=None,
    redoc_url=None,
)
app.include_router(status.router)
app.include_router(catalog.router)
app.include_router(health.router)
app.include_router(metrics.router)
app.include_router(docs.router)
app.include_router(event_dead_letters.router)
app.include_router(dead_letters.router)
app.add_middleware(BodyLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
app.add_middleware(HttpMetricsMiddleware)
# Outermost, so a body's deadline starts when the request does.
app.add_middleware(BodyDeadlineMiddleware, timeout=settings.BODY_TIMEOUT)
problems.install(app)


def _openapi() -> dict[str, Any]:
    return build_openapi(app, registry)


app.openapi = _openapi  # type: ignore[method-assign]
