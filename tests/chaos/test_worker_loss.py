"""Workers lost mid-task: kill -9 of a whole worker, of one pool child, and a task that keeps
killing its child. Accounting is Jepsen-style (tests/support/ledger.py): lost must be 0,
duplicates are allowed (at-least-once) but must be exactly the runs that were cut short."""

from __future__ import annotations

import os
import signal
import time

import pytest
from pydantic import BaseModel

from functions.registry import FunctionSpec
from tests.support.chaos import (
    VISIBILITY_TIMEOUT,
    Cell,
    children,
    received,
    wait_for,
)
from tests.support.ledger import epoch

pytestmark = pytest.mark.chaos

SLOW = "spillway.slow"


@pytest.mark.timeout(90)
def test_kill9_of_worker_group_loses_nothing(steady: Cell) -> None:
    cell = steady
    victim = cell.add_worker()
    try:
        ledger = cell.ledger()
        run_for = 2.5
        for _ in range(6):
            ledger.submit(cell.http, "slow", seconds=run_for)
        assert len(ledger.acknowledged) == 6, [e.outcome for e in ledger.entries]

        # Two pool slots per worker and no prefetch: four run, two wait in the list, and the victim
        # holds exactly two of the running ones (in `unacked`, as nothing has been acked yet).
        ledger.wait_running(4, timeout=15)
        ids = {e.id for e in ledger.acknowledged}
        wait_for(lambda: len(received(victim.log(), SLOW) & ids) == 2, 5, "the victim's log")
        on_victim = received(victim.log(), SLOW) & ids
        assert cell.unacked_len() == 4

        killed_at = time.time()
        victim.kill_group()
        assert children(victim.pid) == []

        # The survivor finishes its own two and the two queued ones; the victim's two sit in
        # `unacked` until the visibility timeout, then the restore sweep requeues them.
        verdict = ledger.drain(cell.http, timeout=VISIBILITY_TIMEOUT + 1 + run_for + 12)
        print(f"\nkill -9 worker group: {verdict.summary()}")
        assert verdict.valid, verdict.summary()
        assert len(verdict.succeeded) == 6, verdict.summary()
        assert not verdict.unknown and not verdict.never_ran
        # Each cut-short run shows as a duplicate, and nothing else ran twice.
        assert verdict.duplicated == dict.fromkeys(on_victim, 2), verdict.summary()
        for entry in ledger.acknowledged:
            record = ledger.records[str(entry.id)]
            assert record["attempts"] == ledger.calls(entry), record
        recovery = [epoch(ledger.records[i]["finished_at"]) - killed_at for i in on_victim]
        print(f"victim's tasks finished {min(recovery):.1f}-{max(recovery):.1f}s after the kill")
        cell.wait_idle()
    finally:
        if victim.alive():
            victim.kill_group()
        cell.workers.remove(victim)


@pytest.mark.timeout(60)
def test_kill9_of_pool_child_requeues_its_task_at_once(steady: Cell) -> None:
    cell = steady
    worker = cell.workers[0]
    ledger = cell.ledger()
    for _ in range(2):
        ledger.submit(cell.http, "slow", seconds=2)
    ledger.wait_running(2, timeout=10)
    pool = children(worker.pid)
    assert len(pool) == 2, pool  # concurrency 2: both children busy, one task each

    killed_at = time.time()
    os.kill(pool[0], signal.SIGKILL)
    verdict = ledger.drain(cell.http, timeout=VISIBILITY_TIMEOUT + 10)
    print(f"\nkill -9 pool child: {verdict.summary()}")
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    # Only the task of the killed child ran again; its sibling was not disturbed.
    assert sorted(ledger.calls(e) for e in ledger.acknowledged) == [1, 2], verdict.summary()
    assert sorted(r["attempts"] for r in ledger.records.values()) == [1, 2]
    # Requeued by reject_on_worker_lost at once: the visibility-timeout sweep could not have
    # restarted it before about killed_at + VISIBILITY_TIMEOUT (it was delivered just before).
    again = next(r for r in ledger.records.values() if r["attempts"] == 2)
    restarted_after = epoch(again["started_at"]) - killed_at
    print(f"the killed child's task started again {restarted_after:.1f}s after the kill")
    assert restarted_after < VISIBILITY_TIMEOUT - 2
    assert worker.alive()
    assert "Worker exited prematurely: signal 9 (SIGKILL)" in worker.log()
    assert pool[0] not in children(worker.pid)
    cell.wait_idle()


@pytest.mark.timeout(60)
def test_poison_message_fails_after_bounded_deliveries(steady: Cell) -> None:
    cell = steady
    # `suicide` has the default retry policy. (The function modules are not imported here: that
    # would register them in this process's registry, which the in-process API tests share.)
    max_deliveries = FunctionSpec("x", lambda p: p, BaseModel, BaseModel).max_deliveries
    ledger = cell.ledger()
    poison = ledger.submit(cell.http, "suicide", fail_times=1_000)
    once = ledger.submit(cell.http, "suicide", fail_times=1)
    bystander = ledger.submit(cell.http, "slow", seconds=0)

    verdict = ledger.drain(cell.http, timeout=30)
    print(f"\npoison: {verdict.summary()}")
    assert verdict.valid, verdict.summary()

    record = ledger.records[str(poison.id)]
    assert record["status"] == "failed", record
    assert f"gave up after {max_deliveries} deliveries" in (record["error"] or ""), record
    # It ran max_deliveries times; the next delivery failed it without running it.
    assert ledger.calls(poison) == max_deliveries
    assert record["attempts"] == max_deliveries + 1

    record = ledger.records[str(once.id)]
    assert record["status"] == "succeeded", record
    assert ledger.calls(once) == 2 and record["attempts"] == 2, record
    assert record["result"] == {"calls": 2}

    assert ledger.records[str(bystander.id)]["status"] == "succeeded"
    # Nothing left to redeliver: the loop is over, not just paused.
    cell.wait_idle()
    assert ledger.calls(poison) == max_deliveries
    assert cell.workers[0].alive()
