"""What a run records: each HTTP attempt, each offered invocation, each once-a-second sample.

Times are seconds from the start of the run (`t`, the producer's monotonic clock). The API's
timestamps (`submitted_at`, `started_at`, `finished_at`, the server's wall clock) are converted to
the same axis with the wall-clock time at which the run started, so they assume the load
machine's clock agrees with the servers' (NTP); durations between two server timestamps do not.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


class Clock:
    """Seconds since the run started, and the conversion of server wall-clock times to it."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.wall_start = time.time()

    def now(self) -> float:
        return time.monotonic() - self._start

    def from_iso(self, value: str | None) -> float | None:
        unix = iso_to_unix(value)
        return None if unix is None else unix - self.wall_start


@dataclass(slots=True)
class RequestRecord:
    """One HTTP attempt of one request (a request carries one invocation, or `--batch` of them)."""

    request: int
    attempt: int
    items: int
    sent_t: float
    answered_t: float
    status: int | None  # None: no HTTP answer (connect error, timeout)
    retry_after: float | None = None
    error: str = ""  # a transport error, or the problem detail of an error answer


@dataclass(slots=True)
class Arrival:
    """One offered invocation, from its scheduled time to its final state."""

    index: int
    request: int
    scheduled_t: float
    first_sent_t: float | None = None
    answered_t: float | None = None
    submit_latency_s: float | None = None  # HTTP latency of the attempt that was answered last
    attempts: int = 0
    throttled: int = 0  # 429 and 503 answers before the last one
    waited_for_slot: bool = False  # the in-flight bound delayed its send
    outcome: str = "pending"  # accepted | rejected
    reason: str = ""  # why it was rejected: backlog-429, unavailable-503, http-<code>, transport
    id: str = ""
    # Filled in by the drain from GET /v1/invocations/{id}.
    status: str = ""  # succeeded | failed | lost
    worker_attempts: int = 0
    submitted_t: float | None = None
    started_t: float | None = None
    finished_t: float | None = None
    error: str = ""  # rejected: the API's problem detail; failed: the function's error

    @property
    def queue_wait_s(self) -> float | None:
        return _diff(self.started_t, self.submitted_t)

    @property
    def run_s(self) -> float | None:
        return _diff(self.finished_t, self.started_t)

    @property
    def end_to_end_s(self) -> float | None:
        """From the first send to the finish: what a producer waits for a result."""
        return _diff(self.finished_t, self.first_sent_t)


@dataclass(slots=True)
class Sample:
    """The system as seen once a second; None where a source was not reachable or not asked."""

    t: float
    queue_depth: int | None = None
    in_flight: int | None = None
    replicas: int | None = None  # ready worker replicas (pods consuming)
    desired: int | None = None
    running: int | None = None
    api_submitted: float | None = None  # the API's counters and gauges (/metrics)
    api_rejected: float | None = None
    api_queue_depth: float | None = None
    api_in_flight: float | None = None

    @property
    def backlog(self) -> int | None:
        if self.queue_depth is None and self.in_flight is None:
            return None
        return (self.queue_depth or 0) + (self.in_flight or 0)


def _diff(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else end - start


def iso_to_unix(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def write_csv(path: Path, rows: Sequence[Any], extra: Iterable[str] = ()) -> None:
    """Rows of one dataclass, plus the read-only properties named in `extra`."""
    if not rows:
        path.write_text("")
        return
    fields = dataclasses.fields(rows[0])
    names = [f.name for f in fields if not f.name.startswith("_")] + list(extra)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow(_cell(getattr(row, name)) for name in names)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return value
