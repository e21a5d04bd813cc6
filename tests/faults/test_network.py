"""Workers losing their connections to Redis: a reply lost on the wire, and `CLIENT KILL`."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from functions import keys
from functions.worker.inflight import source
from tests.support.chaos import Cell, children, wait_for
from tests.support.faults import kill_connections, submit_mix
from tests.support.proxy import Proxy

pytestmark = pytest.mark.chaos


@pytest.fixture
def proxy_cell(cell_factory: Callable[..., Cell]) -> Iterator[tuple[Cell, Proxy]]:
    """A cell whose one worker reaches Redis through a proxy that can lose a reply."""
    cell = cell_factory(workers=0)
    proxy = Proxy(cell.server.port).start()
    cell.add_worker(REDIS_URL=proxy.url)
    yield cell, proxy
    proxy.close()


@pytest.mark.timeout(60)
def test_a_fetch_whose_reply_is_lost_does_not_strand_the_message(
    proxy_cell: tuple[Cell, Proxy],
) -> None:
    """The worker's fetch (functions/worker/lua/fetch.lua) runs in Redis, which takes the
    message and records it in flight under the worker's lease, but the reply never arrives:
    the connection breaks first. The worker reconnects and keeps its lease, so no sweep will
    ever reclaim that delivery; the worker must put back what it holds and never received."""
    cell, proxy = proxy_cell
    fetch_sha = hashlib.sha1(source("fetch").encode()).hexdigest().encode()
    ledger = cell.ledger()
    with ledger.fault("a fetch reply lost on the wire"):
        proxy.cut_reply(fetch_sha)
        entry = ledger.submit(cell.http, "slow", seconds=0)
        wait_for(proxy.cut.is_set, 10, "the proxy to lose a fetch reply")
    lease = cell.client.hget(keys.record_key("", str(entry.id)), "worker")
    print(f"\nlost the reply to a fetch of {entry.id} taken under lease {lease!r}")
    verdict = ledger.drain(cell.http, timeout=15)
    print(verdict.summary())
    assert verdict.valid and len(verdict.succeeded) == 1, verdict.summary()
    record = ledger.records[str(entry.id)]
    # Taken twice, run once: the first delivery went back to the queue unrun, not as lost.
    assert ledger.calls(entry) == 1 and record["attempts"] == 2, record
    assert [h["event"] for h in record["history"]] == ["released"], record
    assert cell.workers[0].alive()


@pytest.mark.timeout(90)
def test_client_kill_of_worker_connections(cell_factory: Callable[..., Cell]) -> None:
    """`CLIENT KILL` of every connection of a busy worker (consumer, lease, pool children),
    three times a second apart, with sleeps running and retries waiting in Redis. The worker
    reconnects and nothing is lost or run twice at once."""
    cell = cell_factory(workers=1)
    worker = cell.workers[0]
    ledger = cell.ledger()
    sleeping, retrying = submit_mix(ledger, cell, slow=6, seconds=1.5)
    killed = []
    with ledger.fault("CLIENT KILL of the worker's connections"):
        for _ in range(3):
            killed.append(kill_connections(cell.client, worker, cell.server.port))
            time.sleep(1)
    print(f"\nCLIENT KILL: closed {killed} connections")
    assert all(n >= 2 for n in killed), killed  # at least the consumer's and the lease's
    verdict = ledger.drain(cell.http, timeout=30)
    print(verdict.summary())
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(sleeping) + len(retrying), verdict.summary()
    for entry in retrying:
        assert ledger.records[str(entry.id)]["attempts"] == 2, ledger.records[str(entry.id)]
    assert worker.alive() and "Connection to broker lost" in worker.log()


@pytest.mark.timeout(90)
def test_a_delivery_handed_to_a_slow_pool_child_is_not_released_on_connection_loss(
    cell_factory: Callable[..., Cell],
) -> None:
    """A message the worker took and handed to a pool child that has not accepted the job yet
    (its ACK not read by the main process) when the worker's connection breaks: Celery counts
    it among reserved, not active, requests (celery 5.7.0 `worker/state.py`, `task_accepted`
    adds to `active_requests` only when the child's ACK is handled), and the transport puts
    back every delivery it does not see running (functions/worker/transport.py,
    `QoS.restore_unacked`). But the job is in the child's pipe and runs anyway (billiard's
    `AsynPool.flush` keeps writing what it began). Frozen pool children make the window as
    long as the test needs: were the message put back, another worker would run it, and when
    the children continue the first copy would run too. Only deliveries whose Request nothing
    refers to any more go back (functions/worker/deliveries.py, `release_orphans`)."""
    cell = cell_factory(workers=0)
    victim = cell.add_worker()
    pool = children(victim.pid)
    ledger = cell.ledger()
    with ledger.fault("SIGSTOP of the pool children, CLIENT KILL of their worker"):
        for pid in pool:
            os.kill(pid, signal.SIGSTOP)
        try:
            entry = ledger.submit(cell.http, "slow", seconds=1)
            key = keys.record_key("", str(entry.id))
            wait_for(lambda: cell.client.hget(key, "status") == b"running", 10, "the delivery")
            rescuer = cell.add_worker()
            assert kill_connections(cell.client, victim, cell.server.port) >= 1
            time.sleep(3)  # long enough for the rescuer to take the message if it was put back
        finally:
            for pid in pool:
                os.kill(pid, signal.SIGCONT)
    time.sleep(3)  # a job in a child's pipe runs now, and may finish after the drain
    verdict = ledger.drain(cell.http, timeout=30)
    print(f"\ndelivery in a frozen child's pipe at connection loss: {verdict.summary()}")
    assert verdict.valid, verdict.summary()  # two completed runs: an unexplained duplicate
    assert ledger.calls(entry) == 1
    assert rescuer.alive() and victim.alive()
