"""Worker leases: a lost worker's work runs again in seconds, and a frozen one never runs a task
next to its rerun (functions/worker/lease.py, functions/worker/fence.py)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from tests.support.chaos import LEASE_TTL, Cell, children, wait_for
from tests.support.ledger import Entry, Ledger, epoch

pytestmark = pytest.mark.chaos


def _started_on(ledger: Ledger, entries: list[Entry], pids: list[int]) -> bool:
    return all(any(run.pid in pids for run in ledger.runs(e).values()) for e in entries)


@pytest.mark.timeout(120)
def test_work_of_a_killed_worker_runs_again_within_15_s_on_defaults(
    cell_factory: Callable[..., Cell],
) -> None:
    """kill -9 of a whole worker (main process and pool children), default lease settings."""
    cell = cell_factory(
        workers=0,
        SPILLWAY_LEASE_TTL="10",
        SPILLWAY_SWEEP_INTERVAL="1",
        SPILLWAY_WORKER_CONCURRENCY="2",
    )
    victim = cell.add_worker()
    ledger = cell.ledger()
    entries = [ledger.submit(cell.http, "slow", seconds=6) for _ in range(2)]
    ledger.wait_running(2, timeout=15)
    assert _started_on(ledger, entries, children(victim.pid))
    survivor = cell.add_worker()
    killed_at = time.time()
    with ledger.fault("kill -9 of a whole worker"):
        victim.kill_group()

    def rerun_started() -> bool:
        return all(ledger.calls(e) == 2 for e in entries)

    waited = wait_for(rerun_started, 20, "the killed worker's tasks to run again")
    print(f"\nkill -9: both tasks running again {time.time() - killed_at:.1f}s after the kill")
    assert waited < 15
    verdict = ledger.drain(cell.http, timeout=20)
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    for entry in entries:
        record = ledger.records[str(entry.id)]
        assert record["attempts"] == 2, record
        assert [h["event"] for h in record["history"]] == ["worker_lost"], record
        assert epoch(record["started_at"]) > killed_at
    assert survivor.alive()


@pytest.mark.timeout(90)
def test_a_frozen_worker_never_runs_a_task_next_to_its_rerun(
    cell_factory: Callable[..., Cell],
) -> None:
    """SIGSTOP a worker's whole process group past its lease, then SIGCONT it: each invocation
    has exactly one run that completes and no two runs overlap in time."""
    cell = cell_factory(workers=0)
    frozen = cell.add_worker()
    ledger = cell.ledger()
    entries = [ledger.submit(cell.http, "slow", seconds=LEASE_TTL + 2) for _ in range(2)]
    ledger.wait_running(2, timeout=15)
    assert _started_on(ledger, entries, children(frozen.pid))
    survivor = cell.add_worker()
    with ledger.fault("SIGSTOP of a whole worker past its lease"):
        frozen.signal_group(signal.SIGSTOP)
        try:
            wait_for(lambda: all(ledger.calls(e) == 2 for e in entries), 3 * LEASE_TTL, "reruns")
        finally:
            frozen.signal_group(signal.SIGCONT)
    verdict = ledger.drain(cell.http, timeout=20)
    assert verdict.valid, verdict.summary()  # includes: no overlapping runs
    assert len(verdict.succeeded) == 2
    for entry in entries:
        assert ledger.completed(entry) == 1, ledger.runs(entry)
    # The frozen worker took a new lease and goes on consuming.
    survivor.stop()
    later = cell.ledger()
    after = later.submit(cell.http, "slow", seconds=0)
    assert later.drain(cell.http, timeout=20).valid
    assert later.records[str(after.id)]["status"] == "succeeded"
    assert frozen.alive()
