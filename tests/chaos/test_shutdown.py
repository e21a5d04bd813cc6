"""SIGTERM during tasks (what the kubelet sends on scale-in), and the startup refusal that keeps
the visibility timeout above every time limit."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.support.chaos import SOFT_SHUTDOWN_TIMEOUT, VISIBILITY_TIMEOUT, Cell, received, succeeded
from tests.support.processes import ROOT, base_env

pytestmark = pytest.mark.chaos

SLOW = "spillway.slow"
EXIT_MARGIN = 5.0  # cold shutdown after the soft window: terminate the pool, restore, close
assert SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN < VISIBILITY_TIMEOUT


@pytest.mark.timeout(90)
def test_sigterm_finishes_short_task_and_requeues_long_one(
    cell_factory: Callable[..., Cell],
) -> None:
    cell = cell_factory(workers=1)
    doomed = cell.workers[0]
    ledger = cell.ledger()
    short = ledger.submit(cell.http, "slow", seconds=1.0)  # fits in the soft-shutdown window
    long = ledger.submit(cell.http, "slow", seconds=5.0)  # does not (and is under its limit)
    ledger.wait_running(2, timeout=10)

    doomed.signal(signal.SIGTERM)
    t0 = time.monotonic()
    doomed.process.wait(SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN + 10)
    exited_after = time.monotonic() - t0
    log = doomed.log()
    print(f"\nSIGTERM: worker exited {doomed.process.returncode} after {exited_after:.1f}s")
    assert exited_after <= SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN, log[-3000:]
    assert doomed.process.returncode == 0, log[-3000:]

    # (a) The short task finished on the terminating worker, once.
    assert short.id in succeeded(log, SLOW), log[-3000:]
    assert ledger.read(cell.http, short)["status"] == "succeeded"
    assert ledger.calls(short) == 1

    # (b) The long one was cut off and its message put back on the queue list at shutdown, not
    # left in `unacked` for the visibility-timeout sweep (which would take VISIBILITY_TIMEOUT).
    assert "Restoring 1 unacknowledged message(s)" in log, log[-3000:]
    assert long.id not in succeeded(log, SLOW)
    # That happened within SOFT_SHUTDOWN_TIMEOUT + EXIT_MARGIN of the SIGTERM, i.e. before
    # VISIBILITY_TIMEOUT could have brought it back from `unacked`.
    assert (cell.queue_len(), cell.unacked_len()) == (1, 0)

    rescuer = cell.add_worker()
    verdict = ledger.drain(cell.http, timeout=5 + 10)
    print(f"SIGTERM: {verdict.summary()}")
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    on_rescuer = received(rescuer.log(), SLOW)
    assert long.id in on_rescuer and short.id not in on_rescuer, on_rescuer
    # The cut-off run counts as one delivery: two runs, two attempts, no third copy.
    assert ledger.calls(long) == 2 and ledger.records[str(long.id)]["attempts"] == 2
    cell.wait_idle()


@pytest.mark.timeout(60)
def test_worker_refuses_visibility_timeout_not_above_a_time_limit() -> None:
    # The default function modules (builtins + test functions) include `cpu` (time_limit 90),
    # `process-data` (30) and `sleep` (330). Both workers start at once: each pays Celery's import.
    workers = {
        vt: subprocess.Popen(
            [sys.executable, "-m", "functions.cli", "worker"],
            env=base_env(
                "redis://127.0.0.1:9/0",  # nothing listens there: refusal needs no broker
                SPILLWAY_VISIBILITY_TIMEOUT=str(vt),
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for vt in (VISIBILITY_TIMEOUT, 100)
    }
    named = {}
    for vt, worker in workers.items():
        output, _ = worker.communicate(timeout=50)
        output = output.strip()
        assert worker.returncode != 0, output
        assert len(output.splitlines()) == 1, output
        assert "Traceback" not in output and output.startswith("spillway: error: "), output
        found = re.search(r"function '([a-z0-9-]+)' has time_limit ([0-9.]+)s", output)
        assert found, output
        assert float(found[2]) >= vt and f"SPILLWAY_VISIBILITY_TIMEOUT={vt}s" in output, output
        named[vt] = found[1]
    assert named[100] == "sleep"  # the only function with a limit of 100 s or more
