"""API metrics: invocations submitted and rejected, queue depth, HTTP requests by route."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.deadletters.metrics import DeadLetterCollector

SUBMITTED = Counter(
    "spillway_invocations_submitted_total", "Invocations accepted and enqueued.", ["function"]
)
REJECTED = Counter(
    "spillway_invocations_rejected_total",
    "Invocations refused, by reason (invalid, backlog, memory, redis_unavailable, conflict, "
    "unsupported_media_type, unknown_function).",
    ["function", "reason"],
)
OUTCOME_UNKNOWN = Counter(
    "spillway_invocations_outcome_unknown_total",
    "Invocations whose submit was sent to Redis but not answered: they may have been enqueued "
    "(the producer got 503 outcome-unknown with their ids). Not counted as rejected.",
    ["function"],
)
QUEUE_DEPTH = Gauge(
    "spillway_queue_depth", "Invocations waiting in the queue list, as last seen.", ["queue"]
)
IN_FLIGHT = Gauge(
    "spillway_in_flight",
    "Delivered but unacknowledged tasks in the default pool's unacked hash, as last seen "
    "(pools set with SPILLWAY_POOL have their own).",
)
OUTBOX = Gauge(
    "spillway_outbox_deliveries",
    "Callbacks and completion events in the outbox, as last seen: `ready` wait for a sender "
    "(near 0 while senders keep up), `retrying` wait for their next attempt.",
    ["state"],
)
HTTP_REQUESTS = Counter(
    "spillway_http_requests_total",
    "HTTP requests by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "spillway_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# spillway_dead_letters{queue,function,reason}, spillway_dead_lettered_total{queue,reason}, ...:
# read from Redis at scrape time (routes/metrics.py).
DEAD_LETTERS = DeadLetterCollector()
REGISTRY.register(DEAD_LETTERS)

M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """`metric.labels(...)` looked up once per label set, for the per-request paths.

    `labels()` validates and locks on every call, which costs more than the increment itself;
    the label sets here are bounded (registered functions, queues, route templates, statuses).
    """

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._cache: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self.metric.labels(*values)
        return child


submitted = Children(SUBMITTED)
queue_depth = Children(QUEUE_DEPTH)
_requests = Children(HTTP_REQUESTS)
_latency = Children(HTTP_LATENCY)


# Scrapes of /metrics are not counted: every scraper (Prometheus, `spillway dev`'s scaler once a
# second) would otherwise dominate spillway_http_requests_total with its own requests;
# Prometheus's `up` and `scrape_duration_seconds` already describe them.
UNCOUNTED_PATHS = frozenset({"/metrics"})


class HttpMetricsMiddleware:
    """Counts requests by route *template* (never the raw path, which would explode cardinality).

    A pure ASGI middleware: Starlette's BaseHTTPMiddleware costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            _requests(method, template, str(status)).inc()
            _latency(method, template).observe(time.perf_counter() - start)
