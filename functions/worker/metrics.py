"""Worker metrics. Tasks run in pool children, so these use prometheus_client's multiprocess
mode (PROMETHEUS_MULTIPROC_DIR, set by `spillway worker` before anything imports the client)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

DURATION = Histogram(
    "spillway_task_duration_seconds", "Run time of one attempt.", ["function"], buckets=_BUCKETS
)
QUEUE_WAIT = Histogram(
    "spillway_task_queue_wait_seconds",
    "From submission to the first start of an invocation.",
    ["function"],
    buckets=_BUCKETS,
)
OUTCOMES = Counter(
    "spillway_task_outcomes_total",
    "Finished attempts by outcome (succeeded, failed, retried, timeout, duplicate, poisoned).",
    ["function", "outcome"],
)
DELIVERIES = Counter(
    "spillway_deliveries_total",
    "Messages taken from a queue, by what was done with them (ok: handed to a task; unknown: "
    "held back for a worker that knows the task; malformed; finished: a copy of a finished "
    "invocation, dropped).",
    ["kind"],
)
RECLAIMED = Counter(
    "spillway_reclaimed_deliveries_total",
    "Deliveries requeued because their worker's lease expired (the worker was lost).",
)
