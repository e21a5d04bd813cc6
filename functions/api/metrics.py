"""API metrics: invocations submitted and rejected, queue depth, HTTP requests by route."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SUBMITTED = Counter(
    "spillway_invocations_submitted_total", "Invocations accepted and enqueued.", ["function"]
)
REJECTED = Counter(
    "spillway_invocations_rejected_total",
    "Invocations refused, by reason (invalid, backlog, redis_unavailable, conflict, too_large).",
    ["function", "reason"],
)
QUEUE_DEPTH = Gauge(
    "spillway_queue_depth", "Invocations waiting in the queue list, as last seen.", ["queue"]
)
IN_FLIGHT = Gauge(
    "spillway_in_flight",
    "Delivered but unacknowledged tasks (the unacked hash) for this key prefix, as last seen.",
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


class HttpMetricsMiddleware:
    """Counts requests by route *template* (never the raw path, which would explode cardinality).

    A pure ASGI middleware: Starlette's BaseHTTPMiddleware costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - start)
