"""SIGTERM during tasks (what the kubelet sends on scale-in): short tasks finish, long ones go
back to the queue at once, and being cut short by a scale-in never counts towards poison."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from tests.support.chaos import SOFT_SHUTDOWN_TIMEOUT, Cell, received, succeeded
from tests.support.ledger import Ledger

pytestmark = pytest.mark.chaos

SLOW = "spillway.slow"
EXIT_MARGIN = 5.0  # cold shutdown after the soft window: terminate the pool, release, close


def _terminate(cell: Cell, ledger: Ledger) -> str:
    doomed = cell.workers[-1]
    with ledger.fault("SIGTERM of a busy worker (scale-in)"):
        doomed.signal(signal.SIGTERM)
        t0 = time.monotonic()
        doomed.process.wait(SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN + 10)
    exited_after = time.monotonic() - t0
    log = doomed.log()
    print(f"\nSIGTERM: worker exited {doomed.process.returncode} after {exited_after:.1f}s")
    assert exited_after <= SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN, log[-3000:]
    assert doomed.process.returncode == 0, log[-3000:]
    return log


@pytest.mark.timeout(90)
def test_sigterm_finishes_short_task_and_requeues_long_one(
    cell_factory: Callable[..., Cell],
) -> None:
    cell = cell_factory(workers=1)
    ledger = cell.ledger()
    short = ledger.submit(cell.http, "slow", seconds=1.0)  # fits in the soft-shutdown window
    long = ledger.submit(cell.http, "slow", seconds=5.0)  # does not (and is under its limit)
    ledger.wait_running(2, timeout=10)
    log = _terminate(cell, ledger)

    # (a) The short task finished on the terminating worker, once.
    assert short.id in succeeded(log, SLOW), log[-3000:]
    assert ledger.read(cell.http, short)["status"] == "succeeded"
    assert ledger.calls(short) == 1

    # (b) The long one was cut off and its message put back on the queue before the worker
    # exited, not left for its lease to expire.
    assert long.id not in succeeded(log, SLOW)
    assert (cell.queue_len(), cell.unacked_len()) == (1, 0)
    record = ledger.read(cell.http, long)
    assert record["status"] == "queued" and [h["event"] for h in record["history"]] == [
        "released"
    ], record

    rescuer = cell.add_worker()
    verdict = ledger.drain(cell.http, timeout=5 + 10)
    print(f"SIGTERM: {verdict.summary()}")
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    on_rescuer = received(rescuer.log(), SLOW)
    assert long.id in on_rescuer and short.id not in on_rescuer, on_rescuer
    # The cut-off run counts as one attempt: two runs, two attempts, no third copy.
    assert ledger.calls(long) == 2 and ledger.records[str(long.id)]["attempts"] == 2
    cell.wait_idle()


@pytest.mark.timeout(120)
def test_scale_ins_are_not_poison(cell_factory: Callable[..., Cell]) -> None:
    """A healthy long task that meets more scale-ins than SPILLWAY_MAX_LOST still runs: only
    deliveries whose worker died running them count."""
    cell = cell_factory(workers=1, SPILLWAY_MAX_LOST="1")
    ledger = cell.ledger()
    task = ledger.submit(cell.http, "slow", seconds=SOFT_SHUTDOWN_TIMEOUT + 2.5)
    for scale_in in range(2):
        ledger.wait_running(1, timeout=15)
        _terminate(cell, ledger)
        assert ledger.calls(task) == scale_in + 1
        cell.add_worker()
    verdict = ledger.drain(cell.http, timeout=30)
    record = ledger.records[str(task.id)]
    assert verdict.valid and len(verdict.succeeded) == 1, (verdict.summary(), record)
    assert record["attempts"] == 3 and "dead_letter" not in (record["error"] or ""), record
    assert [h["event"] for h in record["history"]] == ["released", "released"], record
