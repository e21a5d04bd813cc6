"""Stopping a running invocation whose function opted in (`@function(..., interruptible=True)`).

`DELETE /v1/invocations/{id}` on a running invocation of such a function writes
`cancel_requested` into its record (functions/api/lua/cancel.lua). While the function runs, a
thread of the process running it polls that field, and on seeing it sends SIGUSR2 to the main
thread, whose handler raises `Cancelled` there: a BaseException, so the function's own
`except Exception` does not swallow it, and a signal, so it also ends a blocking sleep or read.
The task records `cancelled` (finish.lua, fenced like every outcome). Only the process's main
thread can take a Python signal handler, so in a pool that runs tasks on other threads the
function is simply not interrupted. SIGUSR1 is billiard's soft time limit; SIGUSR2 is free in
pool children (Celery binds it to its remote debugger only when CELERY_RDBSIG is set).

A function that opts in must be safe to stop at any point: it runs at least once anyway, and
cancelling is one more way for a run to end midway.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError

POLL = 0.2  # seconds between looks at the record while the function runs
_lock = threading.Lock()
_armed = False
_installed = False


class Cancelled(BaseException):
    """Raised in a running function whose invocation was cancelled."""


def _handler(signum: int, frame: object) -> None:
    global _armed
    if _armed:  # a late signal, after the function returned, changes nothing
        _armed = False
        raise Cancelled("cancelled while running (DELETE /v1/invocations/{id})")


@contextmanager
def watching(redis: Redis, record_key: str) -> Iterator[None]:
    """Let a cancel request interrupt what runs inside (on the main thread only)."""
    global _armed, _installed
    main = threading.main_thread()
    if threading.current_thread() is not main:
        yield
        return
    if not _installed:  # left installed: between tasks it ignores the signal (`_armed`)
        signal.signal(signal.SIGUSR2, _handler)
        _installed = True
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL):
            try:
                requested = redis.hget(record_key, "cancel_requested") is not None
            except RedisError:
                continue
            if requested:
                with _lock:
                    if _armed and not stop.is_set():
                        signal.pthread_kill(main.ident or 0, signal.SIGUSR2)
                return

    with _lock:
        _armed = True
    watcher = threading.Thread(target=watch, name="cancel-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with _lock:
            _armed = False
            stop.set()
