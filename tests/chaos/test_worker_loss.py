"""Pool children lost mid-task: kill -9 of one child, and a task that keeps killing its child
(kill -9 of a whole worker is in test_leases.py). Accounting is Jepsen-style
(tests/support/ledger.py): lost must be 0, duplicates are allowed (at-least-once) but must be
exactly the runs that were cut short."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support.chaos import Cell, alive, children, wait_for
from tests.support.ledger import epoch

pytestmark = pytest.mark.chaos


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
    with ledger.fault("kill -9 of one pool child"):
        os.kill(pool[0], signal.SIGKILL)
    verdict = ledger.drain(cell.http, timeout=20)
    print(f"\nkill -9 pool child: {verdict.summary()}")
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    # Only the task of the killed child ran again; its sibling was not disturbed.
    assert sorted(ledger.calls(e) for e in ledger.acknowledged) == [1, 2], verdict.summary()
    assert sorted(r["attempts"] for r in ledger.records.values()) == [1, 2]
    # Requeued by reject_on_worker_lost, not by a sweep of an expired lease: the worker lived on
    # and kept its one lease, which the history names. Counted as a lost delivery.
    again = next(r for r in ledger.records.values() if r["attempts"] == 2)
    restarted_after = epoch(again["started_at"]) - killed_at
    print(f"the killed child's task started again {restarted_after:.1f}s after the kill")
    (lease,) = [str(m, "utf-8") for m in cell.client.zrange("spillway:leases", 0, -1)]  # type: ignore[arg-type]
    assert [(h["event"], h["worker"]) for h in again["history"]] == [("worker_lost", lease)]
    assert lease.split(":")[2] == "1", "the worker never lost its first lease"
    assert worker.alive()
    assert "Worker exited prematurely: signal 9 (SIGKILL)" in worker.log()
    # The killed child is gone (not just reaped out of the list: a zombie is no child of the
    # list either), and the pool replaced it: two children again, neither the killed one.
    assert not alive(pool[0])
    wait_for(lambda: len(children(worker.pid)) == 2, 10, "the pool to replace the child")
    assert pool[1] in children(worker.pid)  # its sibling lived on


@pytest.mark.timeout(60)
def test_poison_message_is_dead_lettered_after_max_lost_deliveries(steady: Cell) -> None:
    cell = steady
    max_lost = 3  # SPILLWAY_MAX_LOST's default
    ledger = cell.ledger()
    # Runs cut short by the function itself, not by a fault: expected, so not duplicates.
    poison = ledger.submit(cell.http, "suicide", expected_runs=max_lost, fail_times=1_000)
    once = ledger.submit(cell.http, "suicide", expected_runs=2, fail_times=1)
    bystander = ledger.submit(cell.http, "slow", seconds=0)

    verdict = ledger.drain(cell.http, timeout=30)
    print(f"\npoison: {verdict.summary()}")
    assert verdict.valid, verdict.summary()

    record = ledger.records[str(poison.id)]
    assert record["status"] == "failed", record
    assert f"died running it {max_lost} times" in (record["error"] or ""), record
    # It ran max_lost times; the next delivery dead-lettered it without running it.
    assert ledger.calls(poison) == max_lost and record["attempts"] == max_lost
    assert record["dead_letter"] == f"spillway/{poison.id}"
    dead = json.loads(cell.client.hget("spillway:dlq:spillway", str(poison.id)) or "{}")
    assert dead["reason"] == "poison" and dead["attempts"] == max_lost, dead

    record = ledger.records[str(once.id)]
    assert record["status"] == "succeeded", record
    assert ledger.calls(once) == 2 and record["attempts"] == 2, record
    assert record["result"] == {"calls": 2, "key": once.key}

    assert ledger.records[str(bystander.id)]["status"] == "succeeded"
    # Nothing left to redeliver: the loop is over, not just paused.
    cell.wait_idle()
    assert ledger.calls(poison) == max_lost
    assert cell.workers[0].alive()
