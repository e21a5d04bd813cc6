"""Records and Idempotency-Keys with a short SPILLWAY_RESULT_TTL, while their invocations wait
out a backlog, a retry and a lost worker."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from functions import keys
from tests.support.chaos import Cell, children, wait_for
from tests.support.ledger import epoch

pytestmark = pytest.mark.chaos

TTL = 2  # seconds, for records and Idempotency-Keys alike


@pytest.mark.timeout(90)
def test_records_outlive_a_short_ttl_while_unfinished(cell_factory: Callable[..., Cell]) -> None:
    """Invocations wait longer than the TTL: queued with no worker, then cut short by a
    killed worker and waiting for its lease to expire, or waiting to be retried. Until each
    finishes, its record reads back as it was submitted (no 404, the same submitted_at) and
    its Idempotency-Key replays the same id instead of enqueueing a duplicate; once it
    finishes, both expire after the TTL."""
    cell = cell_factory(workers=0, SPILLWAY_RESULT_TTL=str(TTL), SPILLWAY_IDEMPOTENCY_TTL=str(TTL))
    ledger = cell.ledger()
    key = {"Idempotency-Key": "retention-1"}
    # First out of the queue: the retry, which fails at once and waits 2 s in Redis.
    ledger.submit(cell.http, "flaky-later", expected_runs=2, fail_times=1)
    keyed = ledger.submit(cell.http, "slow", headers=key, seconds=2 * TTL)
    queued = [ledger.submit(cell.http, "slow", seconds=2 * TTL) for _ in range(3)]
    submitted = {e.id: ledger.read(cell.http, e)["submitted_at"] for e in ledger.acknowledged}
    time.sleep(TTL + 1)

    def still_there() -> None:
        for entry in ledger.acknowledged:
            record = ledger.read(cell.http, entry)  # fails on a 404
            assert record["status"] not in ("succeeded", "failed"), record
            assert record["submitted_at"] == submitted[entry.id], record
        again = cell.http.post(
            f"{cell.api.url}/v1/functions/slow/invocations",
            json={"key": keyed.key, "seconds": 2 * TTL},
            headers=key,
        )
        assert again.status_code == 202 and again.json()["id"] == keyed.id, again.text
        assert again.headers["idempotent-replayed"] == "true"

    still_there()  # queued past the TTL, no worker yet
    victim = cell.add_worker()
    ledger.wait_running(3, timeout=15)  # the retry's first run, and two sleeps
    wait_for(lambda: cell.client.zcard(keys.scheduled_key("")) == 1, 10, "the retry to wait")
    assert len(children(victim.pid)) == 2
    with ledger.fault("kill -9 of a whole worker"):
        victim.kill_group()
    time.sleep(TTL + 1)
    still_there()  # cut short and waiting for the lease to expire; the retry waiting too
    cell.add_worker()
    verdict = ledger.drain(cell.http, timeout=40)
    print(f"\nshort TTL: {verdict.summary()}")
    assert verdict.valid, verdict.summary()
    assert len(verdict.succeeded) == len(queued) + 2, verdict.summary()

    # Finished: now the TTL runs, for the records and the key.
    for entry in ledger.acknowledged:
        ttl = cell.client.ttl(keys.record_key("", str(entry.id)))
        assert 0 < ttl <= TTL or ttl == -2, (entry.id, ttl)  # -2: already expired
    wait_for(
        lambda: not cell.client.exists(keys.record_key("", str(keyed.id))),
        TTL + 5,
        "the finished record to expire",
    )
    lived = time.time() - epoch(ledger.records[str(keyed.id)]["finished_at"])
    assert lived > TTL - 0.5, f"expired {lived:.1f}s after it finished"
    fresh = cell.http.post(
        f"{cell.api.url}/v1/functions/slow/invocations",
        json={"key": keyed.key, "seconds": 0},
        headers=key,
    )
    assert fresh.status_code == 202 and fresh.json()["id"] != keyed.id, fresh.text
