"""The fence: a process running a task dies when its worker's lease can no longer be trusted.

The worker's main process renews the lease (functions/worker/lease.py) and publishes its epoch
and local deadline in shared memory. Each process that runs tasks (a prefork child, or the main
process itself for the solo and threads pools) keeps an interval timer (ITIMER_REAL) armed for
that deadline minus a margin while a task runs, with SIGALRM left at its default action. If the
lease stops being renewed (the main process is stopped, paused or cut off from Redis) the kernel
terminates the task's process at the deadline, before the lease expires in Redis and a sweep
hands the message to another worker. A process stopped past the deadline (SIGSTOP) is
terminated by the pending signal as soon as it continues, before it runs any more of the task.

A task's process that sees the epoch change (the lease was lost and taken again) dies at once:
its delivery belongs to the old lease. The main process tells a death by SIGALRM from any other
(functions/worker/request.py), so a fenced task is not counted as having killed its worker.

Tasks must therefore not use SIGALRM themselves (signal.alarm, signal.setitimer(ITIMER_REAL)).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from functions.worker.lease import FENCE

# Seconds before the lease's local deadline at which the task's process dies: covers the time
# to deliver the signal and any difference in clock rate between this host and Redis.
MARGIN = 1.0
# How often the watcher re-arms the timer as renewals move the deadline.
TICK = 0.1

_lock = threading.Lock()
_epoch: float | None = None
_started = False


def start() -> None:
    """Set up the fence in a process that will run tasks (once per process)."""
    global _started
    if _started:
        return
    _started = True
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    threading.Thread(target=_watch, name="fence", daemon=True).start()


def enter(epoch: float) -> None:
    """A task of the lease with `epoch` starts running in this process."""
    global _epoch
    with _lock:
        _epoch = epoch
        _arm()


def leave() -> None:
    global _epoch
    with _lock:
        _epoch = None
        signal.setitimer(signal.ITIMER_REAL, 0)


def _arm() -> None:
    if _epoch is None:
        return
    if FENCE[0] != _epoch:
        os.kill(os.getpid(), signal.SIGALRM)
        return
    remaining = FENCE[1] - MARGIN - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))


def _watch() -> None:
    while True:
        time.sleep(TICK)
        with _lock:
            _arm()
