"""Workers lost or removed while busy: kill -9 of the main process alone, a scale-in of
several busy workers at once, and how soon the sweep reclaims a lost worker's lease (kill -9 of
a whole worker and of one pool child, and a frozen worker: tests/chaos/test_leases.py and
test_worker_loss.py)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from functions import keys
from tests.support.chaos import LEASE_TTL, SOFT_SHUTDOWN_TIMEOUT, Cell, alive, wait_for
from tests.support.faults import kill_main, submit_mix
from tests.support.ledger import Ledger, epoch

pytestmark = pytest.mark.chaos


def _cut_on(ledger: Ledger, pids: list[int]) -> list[str]:
    """Ids of the invocations whose run in one of `pids` was cut short."""
    return [
        str(e.id)
        for e in ledger.acknowledged
        if any(run.pid in pids and not run.ended for run in ledger.runs(e).values())
    ]


@pytest.mark.timeout(120)
def test_kill9_of_a_worker_main_process_only(cell_factory: Callable[..., Cell]) -> None:
    """kill -9 of the main process alone (what the OOM killer does when it picks it). Its pool
    children die with it: Celery's prefork children ask the kernel for SIGKILL when their
    parent dies (celery 5.7.0 `concurrency/prefork.py`, `process_initializer` calls
    `platforms.set_pdeathsig('SIGKILL')`, prctl PR_SET_PDEATHSIG). Checked on the pids they
    had: after the kill they are nobody's children, so listing the dead process's children
    would prove nothing. Its lease expires and another worker runs its tasks again, once."""
    cell = cell_factory(workers=2)
    ledger = cell.ledger()
    sleeping, retrying = submit_mix(ledger, cell, slow=4, seconds=3.0)
    victim = cell.workers[0]
    with ledger.fault("kill -9 of a worker's main process"):
        pool = kill_main(victim)
        wait_for(lambda: not any(alive(pid) for pid in pool), 5, "its pool children to die")
    assert len(pool) == 2, pool
    verdict = ledger.drain(cell.http, timeout=40)
    print(f"\nkill -9 of the main process: {verdict.summary()}")
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(sleeping) + len(retrying), verdict.summary()
    cut = _cut_on(ledger, pool)
    assert cut, "the kill cut no run short"
    for invocation_id in cut:
        record = ledger.records[invocation_id]
        assert [h["event"] for h in record["history"]] == ["worker_lost"], record
    for entry in retrying:
        assert ledger.records[str(entry.id)]["attempts"] == 2, ledger.records[str(entry.id)]


@pytest.mark.timeout(120)
def test_scale_in_of_busy_workers(cell_factory: Callable[..., Cell]) -> None:
    """Two of three busy workers get SIGTERM at once (KEDA scales in; the kubelet signals the
    pods): what finishes within the soft shutdown finishes, the rest goes back to the queue at
    once (not when a lease expires) and runs on the remaining worker, not counted as lost."""
    cell = cell_factory(workers=3)
    ledger = cell.ledger()
    long = SOFT_SHUTDOWN_TIMEOUT + 0.7  # cannot finish within the soft shutdown
    sleeping, retrying = submit_mix(ledger, cell, slow=6, seconds=long)
    leaving = cell.workers[1:]
    t0 = time.monotonic()
    with ledger.fault("SIGTERM of two busy workers (scale-in)"):
        for worker in leaving:
            worker.signal(signal.SIGTERM)
        for worker in leaving:
            worker.process.wait(SOFT_SHUTDOWN_TIMEOUT + 15)
    exited = time.monotonic() - t0
    assert [w.process.returncode for w in leaving] == [0, 0], [w.log()[-2000:] for w in leaving]
    verdict = ledger.drain(cell.http, timeout=60)
    print(f"\nscale-in: workers gone {exited:.1f}s after SIGTERM; {verdict.summary()}")
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(sleeping) + len(retrying), verdict.summary()
    released = 0
    for entry in ledger.acknowledged:
        record = ledger.records[str(entry.id)]
        events = [h["event"] for h in record["history"]]
        assert set(events) <= {"released"}, record  # never worker_lost: nobody died
        assert record["dead_letter"] is None, record
        released += len(events)
    assert released == 4, f"{released} released: two workers had two long tasks each"


def _sweeps(cell: Cell, seconds: float) -> list[float]:
    """When the pool's sweep ran (Redis TIME, s) over `seconds`: sweep.lua moves `last` on
    every run."""
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        last = cell.client.hget(keys.sweep_key(""), "last")
        if last is not None and (not seen or float(last) / 1000 != seen[-1]):
            seen.append(float(last) / 1000)
        time.sleep(0.02)
    return seen


@pytest.mark.timeout(90)
def test_a_lost_lease_is_reclaimed_within_one_sweep_interval(
    cell_factory: Callable[..., Cell],
) -> None:
    """Recovery waits for the sweep, so the sweep must run every SPILLWAY_SWEEP_INTERVAL.

    It runs from kombu's periodic restore (kombu 5.7.0 `transport/redis.py`:
    `Transport.register_with_event_loop` calls `maybe_restore_messages` every
    `unacked_restore_interval` seconds, 10 by default, and `QoS.restore_visible` scans only on
    every `unacked_restore_throttle`-th call, 10 by default), which functions/worker/app.py sets
    to the sweep interval and 1. A worker that lost those options would recover work only
    every 10 to 100 s. A drain budget cannot tell: it must allow for the lease and for a busy
    machine. So this measures the sweep's own period, and how late after its lease expired a
    killed worker's delivery went back to the queue.
    """
    interval = 1.0
    cell = cell_factory(workers=2, SPILLWAY_SWEEP_INTERVAL=str(interval))
    sweeps = _sweeps(cell, seconds=4 * interval)
    assert len(sweeps) >= 4, f"{len(sweeps)} sweeps in {4 * interval:g}s: {sweeps}"
    gaps = [b - a for a, b in zip(sweeps, sweeps[1:], strict=False)]
    print(f"\nsweeps every {min(gaps):.2f}-{max(gaps):.2f}s (two workers, interval {interval:g}s)")
    assert max(gaps) <= 2 * interval, sweeps

    ledger = cell.ledger()
    entry = ledger.submit(cell.http, "slow", seconds=LEASE_TTL + 3)
    ledger.wait_running(1, timeout=15)
    owner = cell.client.hget(keys.record_key("", str(entry.id)), "worker")
    assert isinstance(owner, bytes)
    # A lease is "<host>:<pid>:<epoch>:<random>" (functions/worker/lease.py).
    (victim,) = [w for w in cell.workers if w.pid == int(owner.decode().split(":")[1])]
    (survivor,) = [w for w in cell.workers if w is not victim]
    with ledger.fault("kill -9 of a whole worker"):
        victim.kill_group()
    expires = cell.client.zscore(keys.leases_key(""), owner)  # no one renews it any more
    assert expires is not None

    def reclaimed() -> bool:
        return bool(ledger.read(cell.http, entry)["history"])

    wait_for(reclaimed, LEASE_TTL + 10 * interval, "the lost delivery to be reclaimed")
    (event,) = ledger.records[str(entry.id)]["history"]
    late = epoch(event["at"]) - expires / 1000
    print(f"reclaimed {late:.2f}s after the lease expired")
    assert event["event"] == "worker_lost"
    assert -0.05 <= late <= interval + 0.5, late
    verdict = ledger.drain(cell.http, timeout=20)
    assert verdict.valid and len(verdict.succeeded) == 1, verdict.summary()
    assert survivor.alive()
