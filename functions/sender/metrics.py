"""The sender's Prometheus metrics (served on SPILLWAY_SENDER_HTTP_PORT, endpoint.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ATTEMPTS = Counter(
    "spillway_sender_attempts_total",
    "Delivery attempts by kind (callback, event) and outcome (delivered, retry, failed).",
    ["kind", "outcome"],
)
SECONDS = Histogram(
    "spillway_sender_attempt_seconds",
    "Time one delivery attempt took, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RECLAIMED = Counter(
    "spillway_sender_reclaimed_total",
    "Deliveries given back to the outbox from senders whose lease expired.",
)
