"""kill -9 of the API while producers submit: the answers they never got are unknown outcomes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.chaos import Cell
from tests.support.ledger import Ledger
from tests.support.processes import start_api

pytestmark = pytest.mark.chaos

PRODUCERS = 4


def _produce(ledger: Ledger, stop: threading.Event) -> None:
    """Submit about 50 a second, backing off while the API does not answer."""
    with httpx.Client() as http:
        while not stop.is_set():
            entry = ledger.submit(http, "slow", timeout=2, seconds=0)
            stop.wait(0.02 if entry.outcome == "acknowledged" else 0.1)


@pytest.mark.timeout(90)
def test_kill9_of_the_api_under_load(cell_factory: Callable[..., Cell]) -> None:
    """Producers keep submitting while the API process is killed and another one started (as
    Knative replaces a lost pod). A submission cut off mid-request may or may not have been
    enqueued: it may run at most once, and if it was enqueued it must finish. Nothing that was
    acknowledged is lost, and a submission that never reached the API never runs."""
    cell = cell_factory(workers=1)
    ledger = cell.ledger()
    stop = threading.Event()
    producers = [
        threading.Thread(target=_produce, args=(ledger, stop), daemon=True)
        for _ in range(PRODUCERS)
    ]
    for thread in producers:
        thread.start()
    try:
        time.sleep(1)
        with ledger.fault("kill -9 of the API"):
            cell.api.kill_group()
            replacement = start_api(cell.server.url, **cell.settings)
            cell.replace_api(replacement)
            ledger.api_url = replacement.url
        time.sleep(1)
    finally:
        stop.set()
        for thread in producers:
            thread.join(10)
    verdict = ledger.drain(cell.http, timeout=40)
    print(
        f"\nkill -9 of the API: {verdict.summary()}; answers "
        f"{sorted({e.answer for e in ledger.entries if e.outcome != 'acknowledged'})}"
    )
    assert verdict.valid, verdict.summary()
    assert verdict.rejected + verdict.unknown > 0, "the kill cut nothing off"
    assert len(verdict.succeeded) == verdict.acknowledged > 0, verdict.summary()
    for entry in ledger.entries:
        if entry.outcome == "unknown":
            assert ledger.calls(entry) <= 1, entry
