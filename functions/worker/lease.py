"""This worker process's lease in Redis, renewed by a thread of its own.

Every delivery the worker takes is attributed to its lease (functions/worker/lua/fetch.lua).
A worker that dies without a goodbye stops renewing; once the lease expires, any worker's sweep
puts its deliveries back in the queue (sweep.lua), within `ttl` plus one sweep instead of a
visibility timeout that must outlast the longest task.

The lease is only safe if a worker that merely lost touch (a partition, SIGSTOP, a long pause)
stops running those tasks before the lease can expire; otherwise the requeued copy would run
next to the original. `FENCE` carries the lease's epoch and the local deadline up to which it is
known to hold to the processes that run tasks (functions/worker/fence.py), which kill themselves
at that deadline. The deadline is counted from just *before* the renewal was sent, so Redis'
own deadline (counted from when it ran the script) is never earlier.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import socket
import threading
import time
from multiprocessing.sharedctypes import RawArray
from typing import Any

from redis.exceptions import RedisError

from functions.worker.inflight import Inflight

log = logging.getLogger("spillway.worker")

# [epoch, deadline on the time.monotonic() clock]. Created at import, before the pool forks its
# children, so they all map the same memory.
FENCE: Any = RawArray(ctypes.c_double, 2)


class Lease:
    def __init__(self, inflight: Inflight, ttl: float, tasks: list[str]) -> None:
        self.inflight = inflight
        self.ttl = ttl
        self.tasks = tasks
        self.epoch = 0
        self.worker = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return bool(self.worker)

    def start(self) -> None:
        """Take a lease (retrying while Redis is unreachable) and keep it renewed."""
        while not self._acquire():
            if self._stop.wait(0.5):
                return
        self._thread = threading.Thread(target=self._renew_forever, name="lease", daemon=True)
        self._thread.start()

    def time_left(self) -> float:
        """Seconds until the local deadline up to which the lease is known to hold."""
        return float(FENCE[1]) - time.monotonic()

    def renew_now(self) -> None:
        """Ask the thread to renew at once (a fetch found the lease gone)."""
        self._wake.set()

    def stop(self, release: bool) -> None:
        """Stop renewing; with `release`, hand every delivery still held back to the queue.

        Only release once the tasks are no longer running (the pool has stopped): their
        messages go back to the queue for another worker.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        if release and self.worker:
            FENCE[0] = self.epoch + 0.5  # any task still running stops now
            try:
                released = self.inflight.release(self.worker)
            except RedisError as exc:
                log.warning("could not release the lease (%s); it expires in %gs", exc, self.ttl)
            else:
                if released:
                    log.info("released %d unfinished deliveries to the queue", released)
            self.worker = ""

    def _acquire(self) -> bool:
        epoch = self.epoch + 1
        worker = f"{socket.gethostname()}:{os.getpid()}:{epoch}:{secrets.token_hex(3)}"
        sent = time.monotonic()
        try:
            self.inflight.acquire(worker, self.ttl, self.tasks)
        except RedisError as exc:
            log.warning("could not take a lease in Redis: %s", exc)
            return False
        self.epoch, self.worker = epoch, worker
        FENCE[1] = sent + self.ttl
        FENCE[0] = epoch
        return True

    def _renew_forever(self) -> None:
        interval = self.ttl / 5
        delay = interval
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            sent = time.monotonic()
            try:
                renewed = self.inflight.renew(self.worker, self.ttl)
            except RedisError as exc:
                # Keep trying often: the children stop their tasks at the old deadline.
                log.warning("could not renew the lease: %s", exc)
                delay = min(0.5, interval)
                continue
            if renewed:
                FENCE[1] = sent + self.ttl
                # A renewal that took longer than an interval (Redis paused or busy) leaves less
                # of the lease than usual, counted from when it was sent: renew again at once,
                # or the fence could stop the tasks of a lease that holds.
                delay = interval if time.monotonic() - sent < interval else 0.0
                continue
            # Reclaimed: its deliveries are back in the queue (or running elsewhere), and any
            # task still running for it is stopped by the fence. Carry on under a new lease.
            log.warning("lease %s expired and was reclaimed; taking a new one", self.worker)
            delay = interval if self._acquire() else min(0.5, interval)
