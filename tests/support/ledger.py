"""Jepsen-style accounting for invocations submitted through the API (jepsen's `total-queue`).

The ledger lives in the test process and in a Redis of its own, outside the Redis under test (the
test functions write their runs to SPILLWAY_TEST_LEDGER_URL, tests/support/functions.py), so a
fault injected into the Redis under test cannot erase the evidence. It sorts every submission by
the answer the producer got, and checks what became of it:

  attempted     submissions sent
  acknowledged  answered 202 (or 200) with an id: a promise
  rejected      definitely not enqueued: a 4xx, a 5xx problem saying "nothing was enqueued", or
                no connection to the API at all
  unknown       no clear answer: a timeout, a broken connection, a 503 of type outcome-unknown
                (with the ids it assigned) or any other 5xx; it may or may not have been enqueued
  succeeded, failed   acknowledged invocations whose record ended so
  lost          acknowledged, yet not finished once everything drained (vanished or stuck)
  duplicated    ran more often than its function's own retries explain; allowed under
                at-least-once delivery, but every extra run must be explained by a fault the
                test injected (`Ledger.fault`): a run cut short while it struck, or a run whose
                writes a crash of a Redis without durable persistence may have rolled back
  falsely rejected    a definite rejection whose payload ran anyway
  recovered     an unknown outcome that ran (Jepsen's name): allowed, reported
  unexpected    a run counted under this ledger's namespace that no submission owns
  overlapping   runs of one invocation that executed at the same time: never allowed
  regressed     a record that moved backwards (sampled from the Redis under test while the test
                runs): status, attempts and history only move forward, a finished record never
                changes, and a record does not vanish before it finishes
  mismatched    a succeeded record whose result is not its own payload's (the key it carries)
                from a run that completed
  residue       what is left once drained: queued, in flight and scheduled messages, and
                unfinished records; must be nothing (the quiet final state)
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import redis

from tests.support.observer import TERMINAL, Observer, Residue, residue_of
from tests.support.runs import Fault, Run, overlapping, runs, unexplained_runs

OUTCOME_UNKNOWN = "urn:spillway:problem:outcome-unknown"
NOTHING_ENQUEUED = "nothing was enqueued"


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


# --- the ledger ----------------------------------------------------------------------------------
@dataclass
class Entry:
    key: str
    function: str
    payload: dict[str, Any]
    expected_runs: int = 1  # runs its function's own retries make
    id: str | None = None
    ids: list[str] = field(default_factory=list)  # assigned ids an outcome-unknown 503 names
    outcome: str = "pending"  # acknowledged | rejected | unknown
    answer: str = ""  # what the producer got: the status code and problem type, or the error


def classify(response: httpx.Response) -> tuple[str, list[str]]:
    """(outcome, ids) of one submit answer: acknowledged, rejected or unknown."""
    if response.status_code in (200, 202):
        return "acknowledged", [response.json()["id"]]
    if response.status_code < 500:
        return "rejected", []
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    if problem.get("type") == OUTCOME_UNKNOWN:
        return "unknown", [str(i) for i in problem.get("ids") or []]
    if NOTHING_ENQUEUED in str(problem.get("detail", "")):
        return "rejected", []
    return "unknown", []


def _unsent(exc: httpx.HTTPError) -> str:
    """A request that never reached the API (no connection) is definitely rejected; one that
    failed after it was sent has an unknown outcome."""
    return "rejected" if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) else "unknown"


def _answer(response: httpx.Response) -> str:
    """The status code, and the problem type of an error."""
    try:
        problem = response.json() if response.status_code >= 400 else {}
    except ValueError:
        problem = {}
    kind = problem.get("type", "") if isinstance(problem, dict) else ""
    return f"{response.status_code} {kind}".strip()


@dataclass
class Verdict:
    attempted: int
    acknowledged: int
    rejected: int
    unknown: int
    succeeded: list[str]
    failed: list[str]
    lost: list[str]
    never_ran: list[str]
    duplicated: dict[str, int]
    unexplained: dict[str, int]
    falsely_rejected: list[str]
    recovered: list[str]
    unexpected: list[str]
    overlapping: dict[str, list[tuple[int, int]]]
    regressed: list[str]
    mismatched: list[str]
    residue: Residue

    def problems(self, allow: tuple[str, ...] = ()) -> list[str]:
        """Every broken promise, by name; `allow` names ones the caller expects."""
        found = {
            "lost": self.lost,
            "unexplained": self.unexplained,
            "falsely_rejected": self.falsely_rejected,
            "unexpected": self.unexpected,
            "overlapping": self.overlapping,
            "regressed": self.regressed,
            "mismatched": self.mismatched,
            "residue": [] if self.residue.quiet else [str(self.residue)],
        }
        return [f"{name}: {value}" for name, value in found.items() if value and name not in allow]

    @property
    def valid(self) -> bool:
        """Jepsen's criterion (nothing acknowledged lost, nothing unexpected ran), every rerun
        explained by a fault, no parallel runs, records only moving forward and holding their
        own results, and nothing left behind."""
        return not self.problems()

    def summary(self) -> str:
        return (
            f"attempted={self.attempted} acknowledged={self.acknowledged} "
            f"rejected={self.rejected} unknown={self.unknown} "
            f"(recovered={len(self.recovered)}) succeeded={len(self.succeeded)} "
            f"failed={len(self.failed)} lost={len(self.lost)} never_ran={len(self.never_ran)} "
            f"duplicated={len(self.duplicated)} {self.duplicated or ''} "
            f"problems={self.problems() or 'none'}"
        )


@dataclass
class Ledger:
    api_url: str
    redis: redis.Redis
    broker_url: str | None = None  # the Redis under test: sampled, and checked once drained
    reach: float = 0.0  # Fault.reach for faults noted without one
    namespace: str = field(default_factory=lambda: f"ledger:{uuid.uuid4().hex[:10]}")
    entries: list[Entry] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    _observer: Observer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.broker_url:
            self._observer = Observer(self.broker_url)

    # --- submitting ----------------------------------------------------------------------
    def entry(self, function: str, expected_runs: int = 1, **fields: Any) -> Entry:
        """A new submission's ledger entry (its payload gets the entry's own counter key)."""
        with self._lock:
            entry = Entry(
                key=f"{self.namespace}:{len(self.entries)}",
                function=function,
                payload=fields,
                expected_runs=expected_runs,
            )
            self.entries.append(entry)
        return entry

    def submit(
        self,
        http: httpx.Client,
        function: str,
        expected_runs: int = 1,
        headers: dict[str, str] | None = None,
        timeout: float = 5,
        **fields: Any,
    ) -> Entry:
        entry = self.entry(function, expected_runs, **fields)
        try:
            response = http.post(
                f"{self.api_url}/v1/functions/{function}/invocations",
                json={"key": entry.key, **fields},
                headers=headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            self.answered(entry, _unsent(exc), [], type(exc).__name__)
            return entry
        self.note(entry, response)
        return entry

    def submit_batch(
        self, http: httpx.Client, function: str, items: list[dict[str, Any]], timeout: float = 5
    ) -> list[Entry]:
        """One batch submission: its entries share the answer (all or nothing)."""
        entries = [self.entry(function, **fields) for fields in items]
        body = {"items": [{"key": e.key, **e.payload} for e in entries]}
        try:
            response = http.post(
                f"{self.api_url}/v1/functions/{function}/invocations/batch",
                json=body,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            for entry in entries:
                self.answered(entry, _unsent(exc), [], type(exc).__name__)
            return entries
        if response.status_code == 202:
            for entry, invocation_id in zip(entries, response.json()["ids"], strict=True):
                self.answered(entry, "acknowledged", [invocation_id], "202")
            return entries
        outcome, ids = classify(response)
        for entry in entries:
            self.answered(entry, outcome, ids, _answer(response))
        return entries

    def note(self, entry: Entry, response: httpx.Response) -> None:
        """Sort a submission by the API's answer (for a test that posts by itself)."""
        outcome, ids = classify(response)
        self.answered(entry, outcome, ids, _answer(response))

    def answered(self, entry: Entry, outcome: str, ids: list[str], answer: str) -> None:
        entry.outcome, entry.answer = outcome, answer
        if outcome == "acknowledged":
            entry.id = ids[0]
        entry.ids = ids
        if self._observer is not None:
            for invocation_id in ids:
                self._observer.watch(invocation_id)

    def fault(self, what: str, reach: float | None = None, loses_data: bool = False) -> _Noting:
        """`with ledger.fault("kill -9 worker"): ...` notes when the fault struck."""
        return _Noting(self, what, self.reach if reach is None else reach, loses_data)

    @property
    def acknowledged(self) -> list[Entry]:
        return [e for e in self.entries if e.outcome == "acknowledged"]

    # --- observing -----------------------------------------------------------------------
    def calls(self, entry: Entry) -> int:
        return read_counter(self.redis, entry.key)

    def runs(self, entry: Entry) -> dict[int, Run]:
        return runs(self.redis, entry.key)

    def completed(self, entry: Entry) -> int:
        """Runs whose body reached its end (not cut short)."""
        return sum(run.ended for run in self.runs(entry).values())

    def read(self, http: httpx.Client, entry: Entry) -> dict[str, Any]:
        """The record through the API (failing the test if the API does not give it)."""
        record = self.poll(http, entry)
        assert record is not None, f"GET of {entry.id} failed"
        return record

    def poll(self, http: httpx.Client, entry: Entry) -> dict[str, Any] | None:
        """The record through the API; None when the API does not answer or has no such
        record."""
        try:
            response = http.get(f"{self.api_url}/v1/invocations/{entry.id}", timeout=5)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
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

    def _finished(self, entry: Entry) -> bool:
        seen = self.records.get(str(entry.id))
        if seen is not None and seen["status"] in TERMINAL:
            return True
        observed = self._observer.seen.get(str(entry.id)) if self._observer else None
        if observed is not None and observed["status"] in TERMINAL:
            self.records[str(entry.id)] = observed  # finished, and expired since (its TTL)
            return True
        return False

    def drain(self, http: httpx.Client, timeout: float) -> Verdict:
        """Poll every acknowledged invocation until all are finished and the Redis under test
        is quiet (or, if it lost them, until nothing is left that could run them), or until
        `timeout` passes; then check everything."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [e for e in self.acknowledged if not self._finished(e)]
            absent = [e for e in pending if self.poll(http, e) is None]
            pending = [e for e in pending if not self._finished(e)]
            quiet = self._quiet()
            if quiet and len(absent) == len(pending):
                break  # finished, or gone with nothing left that could bring them back
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for entry in self.acknowledged:  # the final word on each (a cached one may be stale)
            self.poll(http, entry)
        return self.check()

    def _quiet(self) -> bool:
        try:
            return residue_of(self.broker_url).quiet
        except (redis.RedisError, OSError):
            return False

    # --- the verdict -----------------------------------------------------------------------
    def check(self) -> Verdict:
        if self._observer is not None and not self._observer.stopped:
            self._observer.stop()
        acked = self.acknowledged
        status = {str(e.id): self.records.get(str(e.id), {}).get("status") for e in acked}
        all_runs = {e.key: self.runs(e) for e in self.entries}
        counts = {e.key: self.calls(e) for e in self.entries}
        owned = {e.key for e in self.entries}
        unexpected = sorted(
            key.decode()
            for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000)
            if key.decode().removesuffix(":ticks") not in owned
        )
        label = {e.key: str(e.id) if e.id else e.key for e in self.entries}
        duplicated = {
            label[e.key]: counts[e.key] for e in self.entries if counts[e.key] > e.expected_runs
        }
        unexplained = {
            label[e.key]: n
            for e in self.entries
            if (n := unexplained_runs(all_runs[e.key], e.expected_runs, self.faults))
        }
        overlaps = {
            label[e.key]: pairs
            for e in self.entries
            if (pairs := self._unexplained_overlaps(all_runs[e.key]))
        }
        mismatched = []
        for entry in acked:
            record = self.records.get(str(entry.id))
            if record is None or record["status"] != "succeeded":
                continue
            result = record["result"] or {}
            run = all_runs[entry.key].get(int(result.get("calls", 0)))
            if result.get("key") != entry.key or run is None or not run.ended:
                mismatched.append(f"{entry.id}: {result}")
        broker = residue_of(self.broker_url)
        return Verdict(
            attempted=len(self.entries),
            acknowledged=len(acked),
            rejected=sum(e.outcome == "rejected" for e in self.entries),
            unknown=sum(e.outcome == "unknown" for e in self.entries),
            succeeded=[i for i, s in status.items() if s == "succeeded"],
            failed=[i for i, s in status.items() if s == "failed"],
            lost=[i for i, s in status.items() if s not in TERMINAL],
            never_ran=[str(e.id) for e in acked if counts[e.key] == 0],
            duplicated=duplicated,
            unexplained=unexplained,
            falsely_rejected=[
                f"{e.key} ({e.answer})"
                for e in self.entries
                if e.outcome == "rejected" and counts[e.key]
            ],
            recovered=[e.key for e in self.entries if e.outcome == "unknown" and counts[e.key]],
            unexpected=unexpected,
            overlapping=overlaps,
            regressed=list(self._observer.regressed) if self._observer else [],
            mismatched=mismatched,
            residue=broker,
        )

    def _unexplained_overlaps(self, found: dict[int, Run]) -> list[tuple[int, int]]:
        lossy = [f for f in self.faults if f.loses_data]
        return [
            (a, b)
            for a, b in overlapping(found)
            if not any(f.explains(found[a]) or f.explains(found[b]) for f in lossy)
        ]


class _Noting:
    def __init__(self, ledger: Ledger, what: str, reach: float, loses_data: bool) -> None:
        self.ledger, self.what, self.reach, self.loses_data = ledger, what, reach, loses_data
        self.start = 0.0

    def __enter__(self) -> _Noting:
        self.start = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ledger.faults.append(
            Fault(self.what, self.start, time.time(), self.reach, self.loses_data)
        )
