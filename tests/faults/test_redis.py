"""Redis frozen, restarted and crashed under workers with work in flight: running tasks, a
backlog, and retries waiting in the scheduled set.

Durability of a crash depends on persistence (redis 7.0.15 `src/server.c`, `beforeSleep`: the
append-only buffer is written with `flushAppendOnlyFile` before the replies of that event-loop
turn are sent; with `appendfsync always` it is also fsynced first; `src/aof.c`,
`flushAppendOnlyFile`: with `everysec` the write is postponed, replies still going out, while a
background fsync is slow). kill -9 of the process keeps what reached the page cache, so
`everysec` loses acknowledged writes only behind a slow fsync, or when the host itself fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from functions import keys
from tests.support.chaos import LEASE_TTL, Cell, wait_for
from tests.support.faults import crash_redis, freeze_redis, submit_mix, thaw_redis
from tests.support.ledger import Ledger, Verdict

pytestmark = pytest.mark.chaos

# What a worker logs when the lease fence stops a task (functions/worker/request.py).
FENCED = "stopped by the lease fence"


def _attempts(ledger: Ledger) -> dict[str, int]:
    return {str(e.id): ledger.records[str(e.id)]["attempts"] for e in ledger.acknowledged}


def _at_most_one_cut(ledger: Ledger, verdict: Verdict) -> None:
    """A fault cuts each invocation's run at most once: a rerun is never cut again."""
    for entry in ledger.acknowledged:
        record = ledger.records[str(entry.id)]
        assert record["attempts"] <= entry.expected_runs + 1, (record, verdict.summary())


@pytest.mark.timeout(120)
def test_sigstop_of_redis_past_the_lease(cell_factory: Callable[..., Cell]) -> None:
    """Redis frozen longer than a lease with tasks running: the workers cannot renew, so their
    tasks are stopped by the fence before the lease could have expired; once Redis continues,
    every lease is renewed (the sweep's grace after a gap), the stopped tasks run again, once,
    and new deliveries are not stopped."""
    cell = cell_factory(workers=2)
    ledger = cell.ledger()
    sleeping, retrying = submit_mix(ledger, cell, slow=4, seconds=LEASE_TTL + 1.5)
    with ledger.fault("SIGSTOP of Redis past the lease"):
        freeze_redis(cell.server)
        time.sleep(LEASE_TTL + 1)
        thaw_redis(cell.server)
    verdict = ledger.drain(cell.http, timeout=40)
    print(f"\nRedis frozen {LEASE_TTL + 1}s: {verdict.summary()}; attempts {_attempts(ledger)}")
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(sleeping) + len(retrying)
    _at_most_one_cut(ledger, verdict)
    fenced = sum(w.log().count(FENCED) for w in cell.workers)
    assert fenced <= len(sleeping), f"{fenced} tasks fenced; {len(sleeping)} were running"
    assert all(w.alive() for w in cell.workers)


@pytest.mark.timeout(120)
def test_redis_restart_with_work_in_flight(cell_factory: Callable[..., Cell]) -> None:
    """Redis (append-only file on) shut down and started again: the workers reconnect on their
    own, and what was queued, running and scheduled finishes, each once."""
    cell = cell_factory(workers=2, redis={"appendonly": True})
    ledger = cell.ledger()
    sleeping, retrying = submit_mix(ledger, cell, slow=6, seconds=2.0)
    with ledger.fault("Redis shut down and started again"):
        cell.server.stop()
        time.sleep(1)
        cell.server.start()
    verdict = ledger.drain(cell.http, timeout=40)
    print(f"\nRedis restarted: {verdict.summary()}; attempts {_attempts(ledger)}")
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(sleeping) + len(retrying)
    _at_most_one_cut(ledger, verdict)
    for entry in retrying:
        assert ledger.records[str(entry.id)]["result"]["calls"] == 2
    assert all(w.alive() for w in cell.workers)


PERSISTENCE: dict[str, dict[str, Any]] = {
    "appendfsync always": {"appendonly": True, "args": ("--appendfsync", "always")},
    "appendfsync everysec": {"appendonly": True, "args": ("--appendfsync", "everysec")},
    "no persistence": {},
}


def _crash(cell_factory: Callable[..., Cell], persistence: str) -> tuple[Ledger, Verdict]:
    """kill -9 of Redis while the workers drain a backlog, with sleeps running and retries
    waiting; Redis starts again from whatever its persistence kept."""
    cell = cell_factory(workers=2, redis=PERSISTENCE[persistence])
    ledger = cell.ledger()
    submit_mix(ledger, cell, slow=4, seconds=2.0)
    for _ in range(20):  # short ones, so records and deliveries are being written at the crash
        ledger.submit(cell.http, "slow", seconds=0.1)
    durable = persistence == "appendfsync always"
    with ledger.fault(f"kill -9 of Redis ({persistence})", loses_data=not durable):
        crash_redis(cell.server)
        cell.server.start()
    verdict = ledger.drain(cell.http, timeout=40)
    print(f"\nkill -9 of Redis, {persistence}: {verdict.summary()}")
    return ledger, verdict


@pytest.mark.timeout(120)
def test_redis_crash_with_appendfsync_always_loses_nothing(
    cell_factory: Callable[..., Cell],
) -> None:
    """Every write is in the append-only file before its reply is sent: nothing acknowledged
    is lost, and each invocation runs once more at most."""
    ledger, verdict = _crash(cell_factory, "appendfsync always")
    assert verdict.valid and not verdict.lost, verdict.summary()
    assert len(verdict.succeeded) == verdict.acknowledged, verdict.summary()
    _at_most_one_cut(ledger, verdict)


@pytest.mark.timeout(120)
def test_redis_crash_with_appendfsync_everysec_is_measured(
    cell_factory: Callable[..., Cell],
) -> None:
    """What `everysec` loses in a kill -9 of Redis, reported (a host crash can lose up to the
    last second of acknowledged writes, a process crash only those stuck behind a slow fsync).
    Whatever was lost is accounted for: nothing ran that was not submitted, every result is
    its own, and nothing is left stuck."""
    _, verdict = _crash(cell_factory, "appendfsync everysec")
    lost = len(verdict.lost)
    print(f"everysec: lost {lost} of {verdict.acknowledged} acknowledged invocations")
    assert not verdict.problems(allow=("lost", "regressed")), verdict.summary()
    assert len(verdict.succeeded) + len(verdict.failed) + lost == verdict.acknowledged


@pytest.mark.timeout(120)
def test_a_redis_crash_without_persistence_shows_as_loss(
    cell_factory: Callable[..., Cell],
) -> None:
    """The negative control: Redis comes back empty, so everything unfinished at the crash is
    gone. The ledger must see it; if this passes with nothing lost, the ledger is blind."""
    _, verdict = _crash(cell_factory, "no persistence")
    assert verdict.lost, verdict.summary()
    assert not verdict.valid
    assert any("vanished" in r for r in verdict.regressed), verdict.regressed
    assert verdict.acknowledged == len(verdict.succeeded) + len(verdict.failed) + len(verdict.lost)


@pytest.mark.timeout(90)
def test_a_redis_back_from_older_data_strands_nothing(cell_factory: Callable[..., Cell]) -> None:
    """Redis comes back without its last writes (restarted from an older snapshot, as after a
    failover to a lagging replica or a host crash under everysec): it holds, in flight under
    a lease that lives on, a delivery the worker has already finished. The worker must put it
    back rather than leave it stuck until it exits; it runs again (the lost writes explain
    the second run), and the record, rolled back, moves forward again."""
    cell = cell_factory(workers=1)
    ledger = cell.ledger()
    entry = ledger.submit(cell.http, "slow", seconds=1.0)
    ledger.wait_running(1, timeout=15)
    cell.client.save()  # dump.rdb: the delivery in flight, the record "running"
    wait_for(lambda: ledger.read(cell.http, entry)["status"] == "succeeded", 10, "the run")
    with ledger.fault("Redis restarted from an older snapshot", loses_data=True):
        crash_redis(cell.server)
        cell.server.start()  # loads dump.rdb
    assert cell.client.hget(keys.record_key("", str(entry.id)), "status") == b"running"
    verdict = ledger.drain(cell.http, timeout=20)
    print(f"\nRedis back from older data: {verdict.summary()}")
    # The one record that moved back is the rolled-back one; nothing else is wrong.
    assert not verdict.problems(allow=("regressed",)), verdict.summary()
    assert all(r.startswith(str(entry.id)) for r in verdict.regressed), verdict.regressed
    record = ledger.records[str(entry.id)]
    assert record["status"] == "succeeded" and ledger.completed(entry) == 2, record
    assert [h["event"] for h in record["history"]] == ["released"], record


@pytest.mark.timeout(90)
def test_work_finished_while_redis_is_away_is_recorded_not_run_again(
    cell_factory: Callable[..., Cell],
) -> None:
    """Tasks whose function returns while Redis is away, and stays away past the point where
    the fence stops a task of an unrenewed lease (SPILLWAY_LEASE_TTL minus its margin). The
    function is done: the fence has nothing left to stop, and the outcome's write is fenced in
    Redis itself (finish.lua writes only while this delivery is still in flight). When Redis is
    back within the lease's grace (sweep.lua), the outcome is recorded and nothing runs again."""
    cell = cell_factory(workers=1, redis={"appendonly": True})
    ledger = cell.ledger()
    entries = [ledger.submit(cell.http, "slow", seconds=1.0) for _ in range(2)]
    ledger.wait_running(2, timeout=15)
    with ledger.fault("Redis away while tasks finish"):
        cell.server.stop()
        time.sleep(LEASE_TTL)  # the functions return after 1 s; the fence is due after 2 s
        cell.server.start()
    verdict = ledger.drain(cell.http, timeout=30)
    print(f"\nRedis away while tasks finish: {verdict.summary()}")
    assert verdict.valid, verdict.summary()  # two completed runs would be an unexplained rerun
    for entry in entries:
        record = ledger.records[str(entry.id)]
        assert ledger.calls(entry) == 1 and record["attempts"] == 1, record
        assert record["history"] == [], record
