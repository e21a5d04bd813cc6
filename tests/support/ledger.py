"""Jepsen-style accounting for invocations submitted through the API (jepsen's `total-queue`).

The ledger lives in the test process and in a Redis of its own, outside the Redis under test (the
test functions write to SPILLWAY_TEST_LEDGER_URL). Every submission gets its own call-counter key
(the `key` payload field the test functions INCR when their body starts), so:

  attempted     submissions sent
  acknowledged  submissions answered 202 with an id
  unknown       submissions with no clear answer (timeout, 5xx): they may or may not be enqueued
  calls         how often each function body ran (the counter): the "dequeued" observation
  lost          acknowledged, yet not finished once drained (vanished or stuck)
  duplicated    ran more than once: allowed under at-least-once delivery, and reported
  unexpected    a counter in this ledger's namespace that no submission owns
  overlapping   runs of one invocation that executed at the same time (from the `slow`
                function's ticks): never allowed, even where a rerun is
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import redis

TERMINAL = ("succeeded", "failed")


def _timestamp(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def epoch(iso: str) -> float:
    """A record's ISO 8601 timestamp (`started_at`, `finished_at`, ...) as Unix seconds."""
    return _timestamp(iso).timestamp()


def run_seconds(record: dict[str, Any]) -> float:
    """How long an invocation record says its (last) run took: started_at to finished_at."""
    return (_timestamp(record["finished_at"]) - _timestamp(record["started_at"])).total_seconds()


def read_counter(client: redis.Redis, key: str) -> int:
    """A test function's call counter (the `key` it INCRs when its body starts); 0 if unset."""
    return int(client.get(key) or 0)


@dataclass
class Entry:
    key: str
    function: str
    payload: dict[str, Any]
    id: str | None = None
    outcome: str = "pending"  # acknowledged | rejected:<status> | unknown


def ticks(client: redis.Redis, key: str) -> dict[int, tuple[int, float, float]]:
    """Run number -> (process id, first tick, last tick) from the `slow` function's ticks."""
    runs: dict[int, tuple[int, float, float]] = {}
    for raw in client.lrange(f"{key}:ticks", 0, -1):
        run_text, pid_text, at_text = (raw.decode() if isinstance(raw, bytes) else raw).split()
        run, pid, at = int(run_text), int(pid_text), float(at_text)
        _, first, last = runs.get(run, (pid, at, at))
        runs[run] = (pid, min(first, at), max(last, at))
    return runs


def overlapping(runs: dict[int, tuple[int, float, float]]) -> list[tuple[int, int]]:
    """Pairs of runs whose executions overlap in time."""
    spans = sorted((first, last, run) for run, (_, first, last) in runs.items())
    return [(a[2], b[2]) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1]]


@dataclass
class Verdict:
    attempted: int
    acknowledged: int
    unknown: int
    succeeded: list[str]
    failed: list[str]
    lost: list[str]
    never_ran: list[str]
    duplicated: dict[str, int]
    unexpected: list[str]
    overlapping: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Jepsen's criterion (nothing acknowledged was lost, nothing unexpected ran), and no
        invocation ran twice at the same time."""
        return not self.lost and not self.unexpected and not self.overlapping

    def summary(self) -> str:
        return (
            f"attempted={self.attempted} acknowledged={self.acknowledged} "
            f"unknown={self.unknown} succeeded={len(self.succeeded)} failed={len(self.failed)} "
            f"lost={len(self.lost)} never_ran={len(self.never_ran)} "
            f"duplicated={len(self.duplicated)} {self.duplicated or ''} "
            f"unexpected={len(self.unexpected)} overlapping={self.overlapping or 0}"
        )


@dataclass
class Ledger:
    api_url: str
    redis: redis.Redis
    namespace: str = field(default_factory=lambda: f"ledger:{uuid.uuid4().hex[:10]}")
    entries: list[Entry] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def submit(self, http: httpx.Client, function: str, **fields: Any) -> Entry:
        entry = Entry(
            key=f"{self.namespace}:{len(self.entries)}", function=function, payload=fields
        )
        self.entries.append(entry)
        try:
            response = http.post(
                f"{self.api_url}/v1/functions/{function}/invocations",
                json={"key": entry.key, **fields},
                timeout=5,
            )
        except httpx.HTTPError:
            entry.outcome = "unknown"
            return entry
        if response.status_code == 202:
            entry.id = response.json()["id"]
            entry.outcome = "acknowledged"
        elif response.status_code >= 500:
            entry.outcome = "unknown" if response.status_code != 503 else "rejected:503"
        else:
            entry.outcome = f"rejected:{response.status_code}"
        return entry

    @property
    def acknowledged(self) -> list[Entry]:
        return [e for e in self.entries if e.outcome == "acknowledged"]

    def calls(self, entry: Entry) -> int:
        return read_counter(self.redis, entry.key)

    def completed(self, entry: Entry) -> int:
        """Runs of the `slow` function that reached their end."""
        return read_counter(self.redis, f"{entry.key}:done")

    def read(self, http: httpx.Client, entry: Entry) -> dict[str, Any]:
        response = http.get(f"{self.api_url}/v1/invocations/{entry.id}", timeout=5)
        response.raise_for_status()
        record: dict[str, Any] = response.json()
        self.records[record["id"]] = record
        return record

    def wait_running(self, count: int, timeout: float) -> list[Entry]:
        """Wait until `count` submissions have started (their counter moved); return them."""
        deadline = time.monotonic() + timeout
        while True:
            started = [e for e in self.acknowledged if self.calls(e) > 0]
            if len(started) >= count:
                return started
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(started)} of {count} invocations started within {timeout:g}s"
                )
            time.sleep(0.05)

    def drain(self, http: httpx.Client, timeout: float) -> Verdict:
        """Poll every acknowledged invocation until all are terminal or `timeout` passes."""
        deadline = time.monotonic() + timeout
        pending = {e.id for e in self.acknowledged}
        while pending and time.monotonic() < deadline:
            for entry in self.acknowledged:
                if entry.id in pending and self.read(http, entry)["status"] in TERMINAL:
                    pending.discard(entry.id)
            if pending:
                time.sleep(0.1)
        for entry in self.acknowledged:
            if entry.id in pending:
                self.read(http, entry)
        return self.check()

    def check(self) -> Verdict:
        acked = self.acknowledged
        calls = {e.id: self.calls(e) for e in acked}
        status = {e.id: self.records.get(str(e.id), {}).get("status") for e in acked}
        owned = {e.key for e in self.entries}
        unexpected = sorted(
            key.decode()
            for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000)
            if key.decode().removesuffix(":ticks").removesuffix(":done") not in owned
        )
        overlaps = {
            str(e.id): found for e in acked if (found := overlapping(ticks(self.redis, e.key)))
        }
        return Verdict(
            attempted=len(self.entries),
            acknowledged=len(acked),
            unknown=sum(e.outcome == "unknown" for e in self.entries),
            succeeded=[str(i) for i, s in status.items() if s == "succeeded"],
            failed=[str(i) for i, s in status.items() if s == "failed"],
            lost=[str(i) for i, s in status.items() if s not in TERMINAL],
            never_ran=[str(i) for i, n in calls.items() if n == 0],
            duplicated={str(i): n for i, n in calls.items() if n > 1},
            unexpected=unexpected,
            overlapping=overlaps,
        )
