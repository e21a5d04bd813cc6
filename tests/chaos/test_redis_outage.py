"""Redis stopped or frozen under a running API and worker: fast 503s, never a hang or a 500, and
recovery without restarting anything."""

from __future__ import annotations

import os
import signal
import time
from functools import partial

import httpx
import pytest

from functions.localredis import RedisServer
from tests.support.chaos import HEARTBEAT_MAX_AGE, Cell, timed, wait_for
from tests.support.events import EventWatch
from tests.support.ledger import Ledger, Verdict
from tests.support.processes import Proc

pytestmark = pytest.mark.chaos

FAST = 1.0  # seconds: the contract's "answered within ~1 s"
EVENTS = ["task-received", "task-started", "task-succeeded"]


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _health(url: str) -> tuple[int, str]:
    try:
        response = httpx.get(url, timeout=3)
    except httpx.HTTPError:
        return 0, ""
    return response.status_code, str(response.json().get("status", ""))


def _assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["status"] == 503
    assert elapsed < FAST, f"took {elapsed:.3f}s"


def _probe_outage(api: Proc, http: httpx.Client, known_id: str, ledger: Ledger) -> list[float]:
    """Every Redis-backed route answers 503 fast; liveness stays 200. Returns the latencies.

    The submissions go into `ledger`: whatever the answers said, the caller checks what became
    of them."""
    latencies = []
    single = f"{api.url}/v1/functions/slow/invocations"
    for _ in range(3):
        entry = ledger.entry("slow")
        response, elapsed = timed(partial(http.post, single, json={"key": entry.key}))
        ledger.note(entry, response)
        _assert_unavailable(response, elapsed)
        latencies.append(elapsed)
    batch = [ledger.entry("slow") for _ in range(3)]
    response, elapsed = timed(
        lambda: http.post(
            f"{api.url}/v1/functions/slow/invocations/batch",
            json={"items": [{"key": e.key} for e in batch]},
        )
    )
    for entry in batch:
        ledger.note(entry, response)
    _assert_unavailable(response, elapsed)
    response, elapsed = timed(lambda: http.get(f"{api.url}/v1/invocations/{known_id}"))
    _assert_unavailable(response, elapsed)
    # A pod that reached Redis stays ready and says why it cannot serve submits
    # (functions/api/routes/health.py: unready pods would route through Knative's activator);
    # liveness checks no dependency on purpose, so its body says only that the process lives.
    response, elapsed = timed(lambda: http.get(f"{api.url}/readyz"))
    assert response.status_code == 200 and elapsed < FAST, (response.text, elapsed)
    assert response.json()["status"] == "degraded", response.text
    assert http.get(f"{api.url}/healthz").json() == {"status": "ok"}
    return latencies


@pytest.mark.timeout(120)
def test_redis_frozen_then_stopped_then_restarted(own_redis: RedisServer, ledger_url: str) -> None:
    """One API and one worker, without restarts, through two outages of their Redis."""
    cell = Cell.start(own_redis, ledger_url, workers=1)
    try:
        frozen = _frozen(cell, own_redis)
        _stopped_then_restarted(cell, own_redis)
    finally:
        cell.close()
    # Last, so that it hides nothing else: the answers to the submissions cut off while Redis
    # was frozen must not have said "nothing was enqueued" of any that then ran.
    assert not frozen.falsely_rejected, f"falsely rejected: {frozen.falsely_rejected}"


def _frozen(cell: Cell, server: RedisServer) -> Verdict:
    """SIGSTOP: connections open, nothing answers. Only the API's own deadline stops a hang.

    Returns the ledger's verdict on everything submitted, including what was cut off while
    Redis was frozen: those submissions had reached Redis, which runs them once it continues."""
    api, http = cell.api, cell.http
    first = http.post(f"{api.url}/v1/functions/slow/invocations?wait=10", json={"key": "a"})
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    assert server.process is not None
    ledger = cell.ledger()
    with ledger.fault("SIGSTOP of Redis"):
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            latencies = _probe_outage(api, http, first.json()["id"], ledger)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
    print(f"\nRedis frozen: POST 503 in {min(latencies):.3f}-{max(latencies):.3f}s")

    # Requests cut off by the deadline left replies in flight; none may answer a later
    # request: each new invocation reads back as itself, and runs.
    for _ in range(5):
        entry = ledger.submit(http, "slow", seconds=0)
        assert entry.outcome == "acknowledged", entry
        record = ledger.read(http, entry)
        assert record["function"] == "slow" and record["status"] != "failed", record
    assert http.get(f"{api.url}/readyz").status_code == 200
    verdict = ledger.drain(http, timeout=15)
    cut_off = [e for e in ledger.entries if e.outcome != "acknowledged"]
    ran = sum(ledger.calls(e) > 0 for e in cut_off)
    print(f"{verdict.summary()}; {ran} of {len(cut_off)} cut-off submissions ran after SIGCONT")
    # Everything but what the answers to the cut-off submissions said (the caller checks it).
    assert not verdict.problems(allow=("falsely_rejected",)), verdict.summary()
    assert len(verdict.succeeded) == 5, verdict.summary()
    assert all(ledger.calls(e) <= 1 for e in cut_off), verdict.summary()
    assert "Traceback" not in api.log(), api.log()[-3000:]
    return verdict


def _stopped_then_restarted(cell: Cell, server: RedisServer) -> None:
    api, worker, http = cell.api, cell.workers[0], cell.http
    wait_for(lambda: _status(f"{worker.url}/healthz") == 200, 5, "worker healthy")
    before = http.post(
        f"{api.url}/v1/functions/slow/invocations?wait=10", json={"key": "before", "seconds": 0}
    )
    assert before.status_code == 200 and before.json()["status"] == "succeeded", before.text

    refused = cell.ledger()
    server.stop()
    down_at = time.monotonic()
    # A liveness probe must not fail on a blip: the worker stays healthy on its own beat (200
    # "ok") until the beat is older than SPILLWAY_HEARTBEAT_MAX_AGE. (Its status code alone
    # proves nothing: "broker_unavailable", the answer once the beat aged, is a 200 too.)
    assert _health(f"{worker.url}/healthz") == (200, "ok")
    latencies = _probe_outage(api, http, before.json()["id"], refused)
    print(f"Redis stopped: POST 503 in {min(latencies):.3f}-{max(latencies):.3f}s")

    # The worker cannot consume, but restarting it would not help: once the beat is stale its
    # probe checks Redis, finds it down and says so without failing (no CrashLoopBackOff).
    answers = set()

    def reports_outage() -> bool:
        answers.add(_health(f"{worker.url}/healthz"))
        return (200, "broker_unavailable") in answers

    wait_for(reports_outage, HEARTBEAT_MAX_AGE + 3, "the worker probe to report the outage")
    switched = time.monotonic() - down_at
    print(f"worker /healthz broker_unavailable {switched:.1f}s after the stop")
    assert answers == {(200, "ok"), (200, "broker_unavailable")}, answers
    assert switched > HEARTBEAT_MAX_AGE - 1, "the probe gave up on its beat too early"
    assert worker.alive()

    server.start()  # same port, empty: nothing persisted, so no queue or binding survived
    up_at = time.monotonic()
    # The API was not restarted: its first request after the restart already succeeds.
    ledger = cell.ledger()
    entry = ledger.submit(http, "slow", seconds=0)
    assert entry.outcome == "acknowledged", entry
    assert http.get(f"{api.url}/readyz").status_code == 200

    healthy = wait_for(
        lambda: _health(f"{worker.url}/healthz") == (200, "ok"), 30, "the worker to reconnect"
    )
    verdict = ledger.drain(http, timeout=30)
    print(
        f"Redis back: worker healthy after {healthy:.1f}s, "
        f"new work done {time.monotonic() - up_at:.1f}s after restart; {verdict.summary()}"
    )
    assert verdict.valid and len(verdict.succeeded) == 1, verdict.summary()
    assert "Connection to broker lost" in worker.log()
    # Redis was down (refused, not frozen): the 503s said nothing was enqueued, and that held.
    stopped = refused.check()
    assert stopped.rejected == 6 and stopped.valid, stopped.summary()

    # Task events still reach Flower after the reconnect (batched by functions/worker/consumer.py).
    watch = EventWatch(server.url)
    after = http.post(f"{api.url}/v1/functions/slow/invocations", json={"key": "after"})
    assert after.status_code == 202, after.text
    seen = watch.collect({after.json()["id"]}, EVENTS, timeout=15)
    watch.close()
    assert seen == {after.json()["id"]: EVENTS}
