"""The worker main process's side of its deliveries: take, check, hand to Celery, settle.

One `Deliveries` per worker process (`current()`), set up by the Celery app and used by the
transport (functions/worker/transport.py). What it hands to Celery is a message that is valid,
due, of a task this worker knows, and recorded in Redis as in flight under this worker's lease.
Anything else is dealt with in Redis before Celery sees it: dead-lettered (malformed, expired,
poison), held back for another worker (unknown task), or scheduled (a future `eta`).
"""

from __future__ import annotations

import gc
import json
import logging
import time
import weakref
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from functions.settings import Settings
from functions.worker import fence, metrics
from functions.worker.inflight import Inflight, PoolKeys
from functions.worker.lease import Lease
from functions.worker.messages import Invalid, check

log = logging.getLogger("spillway.worker")

# kombu's priority lists for one queue, in the order BRPOP names them (kombu.transport.redis,
# Channel._q_for_pri and priority_steps): the bare name is priority 0 and is served first.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
# Seconds between tries of a message whose task this worker does not know.
HOLD_DELAY = 5.0
# Seconds a worker that has held work back waits, once woken by a peek, before it fetches: a
# worker that knows the task, woken by the same push, takes the message first (see `yielding`).
YIELD_DELAY = 0.25
# Seconds of lease beyond the fence's margin a task must have ahead of it to be handed out.
FENCE_SLACK = 0.25

_current: Deliveries | None = None


def current() -> Deliveries | None:
    return _current


def install(deliveries: Deliveries | None) -> None:
    global _current
    _current = deliveries


def redis_client(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=5,
        socket_connect_timeout=3,
        socket_keepalive=True,
        health_check_interval=10,
    )


class Deliveries:
    def __init__(self, settings: Settings, tasks: Iterable[str], queues: Iterable[str]) -> None:
        self.settings = settings
        self.queues = frozenset(queues)
        self.tasks = frozenset(tasks)
        self.inflight = Inflight(
            redis_client(settings),
            PoolKeys.of(settings.KEY_PREFIX, settings.POOL),
            record_ttl=settings.RESULT_TTL,
            dead_letter_max=settings.DEAD_LETTER_MAX,
            dead_letter_max_bytes=settings.DEAD_LETTER_MAX_BYTES,
        )
        self.lease = Lease(self.inflight, settings.LEASE_TTL, sorted(self.tasks))
        # tag -> the worker id (lease) that took it: settling needs it, and a lease can change.
        self._taken: dict[str, str] = {}
        # Celery's Request for each taken delivery, held weakly: while anything (a pool job, a
        # queue of Celery's) can still run the delivery, its Request is alive (`orphans`).
        self._requests: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._orphans: set[str] = set()
        self._kept: dict[str, Any] = {}
        # Set when the worker starts to shut down: take nothing more (`stop`).
        self.stopping = False
        self._lost: set[str] = set()
        self._pending: deque[tuple[str, str, str, bool]] = deque()
        # What Redis holds for this lease may differ from what this process took: a fetch's
        # reply is outstanding (still so when the next fetch is due: it was lost), or the
        # connection is new. The transport reconciles before its next fetch.
        self.recheck = False
        self._held_at = -HOLD_DELAY * 2

    # --- taking ---------------------------------------------------------------------------
    def owns(self, queues: Iterable[str]) -> bool:
        """True for the task queues; pidbox and reply queues keep kombu's own path."""
        names = set(queues)
        return bool(names) and names <= self.queues

    def queue_keys(self, queues: list[str]) -> list[str]:
        prefix = self.settings.KEY_PREFIX
        return [prefix + queue + suffix for suffix in _PRIORITY_SUFFIXES for queue in queues]

    def worker(self) -> str:
        if not self.lease.held:
            self.lease.start()
        return self.lease.worker

    def fence_holds(self) -> bool:
        """Whether a task handed out now may run: the lease's local deadline, which counts from
        when its last renewal was sent, is not about to stop it (functions/worker/fence.py).

        After Redis was paused or slow, the last renewal can succeed with its deadline already
        past; every task delivered then would be stopped by the fence at once, and fetched and
        stopped again, until the next renewal. Renew first instead."""
        if self.lease.time_left() > fence.MARGIN + FENCE_SLACK:
            return True
        self.lease.renew_now()
        return False

    def yielding(self) -> bool:
        """Whether this worker should let others fetch first, having held work back lately.

        A held-back message comes back to the queue after HOLD_DELAY, and every idle worker's
        peek wakes on that one push. Were the fetch a fair race, a worker that does not
        know the task would take it back about half the time during a rolling deploy, and
        hold it again for HOLD_DELAY each time; letting the others go first ends that.

        Redis serves every client blocked on a list for as long as the list is not empty
        (blocked.c, serveClientsBlockedOnListKey), and a same-list BLMOVE leaves it as it was:
        tried on 6.2 and 7.0, three peeks blocked on one list all return on one LPUSH."""
        return time.monotonic() - self._held_at < HOLD_DELAY * 2

    def reconcile(self) -> None:
        """Put back what this worker's lease holds but this process never received.

        A fetch whose reply was lost (the connection broke after Redis ran fetch.lua) took a
        message into flight under this lease, and a Redis that came back from older data
        (restarted from a stale append-only file or snapshot, a failover to a replica that
        lagged) may hold deliveries this process has already finished. This process will
        never run or settle them, and since the lease lives on, no sweep reclaims them. Every
        held delivery that was not handed to Celery and is not waiting to be settled is such
        a one, or one a refused write left behind (see `_call`): all go back to the queue.
        """
        self._flush()
        if self._pending:
            return  # Redis refuses writes: try again before the next fetch
        worker = self.lease.worker
        try:
            stray = self.inflight.held(worker) - set(self._taken) if worker else set()
            for tag in stray:
                self.inflight.settle(worker, tag, "requeue", "released")
        except RedisError as exc:
            log.warning("could not check the deliveries of lease %s yet: %s", worker, exc)
            return
        if stray:
            log.warning("put back %d deliveries this worker held but never received", len(stray))
        self.recheck = False

    def track(self, tag: str, request: Any) -> None:
        """Celery made a Request for a delivery this process took (functions/worker/request.py)."""
        self._requests[tag] = request

    def keep(self, requests: Iterable[Any]) -> None:
        """Celery is about to forget these Requests though a pool child will run them
        (functions/worker/pool.py): hold them here until Redis no longer holds their delivery."""
        for request in requests:
            tag = request.message.delivery_tag
            if tag in self._taken:
                self._kept[tag] = request

    def release_orphans(self) -> None:
        """Put back taken deliveries that nothing in this process can run any more.

        When the connection breaks, Celery forgets the requests it had not handed to the pool
        (celery 5.7 `worker/consumer/consumer.py`, `Consumer.on_close`: the semaphore's waiters
        and reserved requests that are not active), and the pool's flush forgets the jobs its
        children have not acknowledged, though one already written to a child's pipe runs
        when the child reads it (functions/worker/pool.py keeps those). So nothing is put back
        at the moment of the loss (`QoS.restore_unacked`); a delivery whose Request object is
        gone (collected: no pool job, queue, timer or `_kept` refers to it) can never run here,
        and goes back to the queue when two sweeps in a row find it so. One still referenced
        is left alone: at worst it waits for this worker's shutdown, never runs twice."""
        if self._kept:
            self._drop_kept()
        suspects = [tag for tag in self._taken if tag not in self._requests]
        if suspects:
            gc.collect()  # Requests sit in reference cycles: count only what is reachable
            suspects = [tag for tag in suspects if tag in self._taken and tag not in self._requests]
        confirmed = self._orphans.intersection(suspects)
        self._orphans = set(suspects) - confirmed
        if confirmed:
            log.warning("put back %d deliveries no pool process will run", len(confirmed))
            self.release(confirmed)

    def _drop_kept(self) -> None:
        """Forget kept deliveries whose outcome the pool child has written (Redis holds them
        no more): Celery will never ack them, since it dropped their jobs."""
        try:
            held = self.inflight.held(self.lease.worker) if self.lease.worker else set()
        except RedisError:
            return
        for tag in [tag for tag in self._kept if tag not in held]:
            del self._kept[tag]
            self._taken.pop(tag, None)

    def stop(self) -> None:
        """The worker is shutting down: fetch nothing more, and put back at once whatever this
        lease holds that Celery never received (a fetch whose reply is unread), rather than
        after the soft shutdown's wait for the running tasks."""
        self.stopping = True
        try:
            self.reconcile()
        except RedisError as exc:  # the lease's release at exit puts them back too
            log.warning("could not put back untaken deliveries at shutdown: %s", exc)

    def on_fetched(self, reply: list[Any]) -> tuple[dict[str, Any], str] | None:
        """What to deliver to Celery (message, queue name) for one fetch.lua reply, or None."""
        kind = _text(reply[0])
        if kind == "lease":
            self.lease.renew_now()
            return None
        tag, src, raw = _text(reply[1]), _text(reply[2]), _text(reply[3])
        worker = self.lease.worker
        metrics.DELIVERIES.labels(kind).inc()
        if kind == "finished":
            # A copy of a finished invocation, or a cancelled one reached in its queue: it is
            # settled (taken off the queue) without running.
            status = _text(reply[4]) if len(reply) > 4 else "finished"
            log.info("dropped a copy of %s invocation %s", status, tag.rpartition(".")[0])
            return None
        if kind == "malformed":
            self._quarantine(worker, tag, Invalid("malformed", "InvalidMessage", _why(raw)))
            return None
        if kind == "poison":
            lost = int(reply[4])
            self._quarantine(
                worker,
                tag,
                Invalid("poison", "WorkerLost", f"its worker process died running it {lost} times"),
            )
            return None
        if kind == "unknown":
            self._held_at = time.monotonic()
            log.info("held back %s: this worker has no task %s", tag, _task_name(raw))
            self._call(
                self.inflight.hold,
                worker,
                tag,
                _task_name(raw),
                HOLD_DELAY,
                self.settings.UNKNOWN_TASK_HOLD,
            )
            return None
        attempts, submitted = int(reply[4]), _text(reply[5])
        retries = int(reply[6])
        try:
            message, eta = check(raw, self.settings.MAX_BODY_BYTES)
        except Invalid as invalid:
            self._quarantine(worker, tag, invalid)
            return None
        if eta is not None and eta > datetime.now(UTC):
            self._call(self.inflight.defer, worker, tag, eta.timestamp())
            return None
        headers = message["headers"]
        headers["retries"] = retries
        headers["spillway"] = {
            "tag": tag,
            "worker": worker,
            "epoch": self.lease.epoch,
            "attempt": attempts,
            "submitted": submitted,
        }
        message["properties"]["delivery_tag"] = tag
        self._taken[tag] = worker
        if self.stopping:  # a reply read after the shutdown began: Celery would not run it
            self.settle(tag, "requeue", "released")
            return None
        queue = src[len(self.settings.KEY_PREFIX) :].split("\x06\x16", 1)[0]
        return message, queue

    def _quarantine(self, worker: str, tag: str, invalid: Invalid) -> None:
        log.warning("dead-lettered a message (%s): %s", invalid.reason, invalid.message)
        self._call(
            self.inflight.quarantine,
            worker,
            tag,
            invalid.reason,
            invalid.error_type,
            invalid.message,
        )

    def _call(self, method: Any, worker: str, tag: str, *args: Any) -> None:
        # The delivery stays in flight under this lease if Redis refuses now: when the lease
        # ends it is requeued, checked again and dealt with then.
        try:
            method(worker, tag, *args)
        except RedisError as exc:
            log.warning("could not %s delivery %s: %s", method.__name__, tag, exc)

    # --- settling -------------------------------------------------------------------------
    def mark_lost(self, tag: str) -> None:
        """The process running this delivery died (not by the fence): count it when requeued."""
        self._lost.add(tag)

    def settle(self, tag: str, mode: str, event: str) -> None:
        lost = tag in self._lost
        self._lost.discard(tag)
        worker = self._taken.pop(tag, self.lease.worker)
        self._pending.append((worker, tag, mode, lost))
        self._flush(event)

    def _flush(self, event: str = "requeued") -> None:
        while self._pending:
            worker, tag, mode, lost = self._pending[0]
            try:
                self.inflight.settle(worker, tag, mode, "worker_lost" if lost else event, lost)
            except RedisError as exc:
                log.warning("could not settle %d deliveries yet: %s", len(self._pending), exc)
                return
            self._pending.popleft()

    def running(self) -> set[str]:
        """Tags taken and not settled yet (their tasks run, or wait for a pool slot)."""
        return set(self._taken)

    def release(self, tags: Iterable[str]) -> None:
        """Put back deliveries that never started or were cancelled (a channel closing)."""
        for tag in tags:
            if tag in self._taken:
                self.settle(tag, "requeue", "released")

    # --- housekeeping ---------------------------------------------------------------------
    def sweep(self) -> None:
        self._flush()
        self.release_orphans()
        try:
            promoted, reclaimed = self.inflight.sweep(
                self.settings.SWEEP_INTERVAL, self.settings.LEASE_TTL
            )
        except RedisError as exc:
            log.debug("sweep skipped: %s", exc)
            return
        if reclaimed:
            log.warning("requeued %d deliveries of workers whose lease expired", reclaimed)
            metrics.RECLAIMED.inc(reclaimed)

    def shutdown(self) -> None:
        self._flush()
        self.lease.stop(release=True)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _why(raw: str) -> str:
    try:
        check(raw, max_body_bytes=1 << 62)
    except Invalid as invalid:
        return invalid.message
    return "no task name or id in its headers"


def _task_name(raw: str) -> str:
    try:
        return str(json.loads(raw)["headers"]["task"])
    except (ValueError, KeyError, TypeError):
        return "?"
