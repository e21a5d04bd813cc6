"""Celery tasks generated from the registry: thin wrappers over functions/worker/execution.py.

A task runs in a pool child. It gets its delivery (tag, lease, attempt) from the `spillway`
header the transport adds (functions/worker/deliveries.py) and ends by writing the outcome and
settling the delivery in one script: finish.lua for a final outcome, retry.lua for a retry.
Those writes are fenced, so a task whose lease was lost cannot overwrite a newer attempt.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery, Task
from celery.exceptions import Retry
from redis.exceptions import RedisError

from functions import keys
from functions.registry import FunctionSpec
from functions.settings import Settings
from functions.worker import deliveries, execution, fence, interrupt, metrics
from functions.worker.inflight import Inflight, PoolKeys

log = logging.getLogger("spillway.worker")

_inflight: dict[int, Inflight] = {}


def inflight(settings: Settings) -> Inflight:
    """One Redis client per process: pool children are forked, and a client must not be shared
    across a fork."""
    pid = os.getpid()
    found = _inflight.get(pid)
    if found is None:
        found = _inflight[pid] = Inflight(
            deliveries.redis_client(settings),
            PoolKeys.of(settings.KEY_PREFIX, settings.POOL),
            record_ttl=settings.RESULT_TTL,
            dead_letter_max=settings.DEAD_LETTER_MAX,
            dead_letter_max_bytes=settings.DEAD_LETTER_MAX_BYTES,
        )
    return found


def write(what: str, call: Callable[[], int]) -> int:
    """Run one outcome write until Redis takes it.

    No path may ack a message whose outcome is not on record, so a write that Redis refuses (an
    outage, OOM, a read-only replica) is tried again rather than given up. If the outage
    outlasts the lease, the fence stops this process and the delivery runs again elsewhere.
    """
    delay = 0.05
    while True:
        try:
            return call()
        except (RedisError, OSError) as exc:
            log.warning("could not record %s yet (%s); trying again", what, exc)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def register(app: Celery, spec: FunctionSpec, settings: Settings) -> Task[Any, Any]:
    def run(self: Task[Any, Any], payload: dict[str, Any]) -> None:
        delivery = self.request.get("spillway") or {}
        if not delivery:
            raise RuntimeError(
                f"{spec.task_name} ran without a Spillway delivery (sent around the transport?)"
            )
        store = inflight(settings)
        invocation_id = str(self.request.id)
        tag, worker = delivery["tag"], delivery["worker"]
        if delivery.get("attempt") == 1 and delivery.get("submitted"):
            metrics.QUEUE_WAIT.labels(spec.name).observe(
                max(0.0, time.time() - float(delivery["submitted"]))
            )
        fence.enter(delivery["epoch"])
        started = time.perf_counter()
        try:
            if spec.interruptible:
                record = keys.record_key(settings.KEY_PREFIX, invocation_id)
                try:
                    with interrupt.watching(store.redis, record):
                        outcome = execution.attempt(spec, payload, self.request.retries, settings)
                except interrupt.Cancelled as exc:
                    outcome = execution.cancelled(exc, started)
            else:
                outcome = execution.attempt(spec, payload, self.request.retries, settings)
        finally:
            # The function has returned: the fence has nothing left to stop. Writing the
            # outcome is fenced in Redis (finish.lua, retry.lua write only while this delivery
            # is in flight), so a write held up by an outage may outlast the lease here; were
            # the process stopped instead, the finished work would run again.
            fence.leave()
        metrics.DURATION.labels(spec.name).observe(outcome.duration)
        metrics.OUTCOMES.labels(spec.name, outcome.label).inc()
        if outcome.retry_after is not None:
            written = write(
                f"the retry of {invocation_id}",
                lambda: store.retry(
                    worker,
                    tag,
                    invocation_id,
                    outcome.retry_after or 0.0,
                    outcome.error,
                    self.request.retries + 1,
                ),
            )
        else:
            written = write(
                f"the outcome of {invocation_id}",
                lambda: store.finish(
                    worker,
                    tag,
                    invocation_id,
                    outcome.status,
                    outcome.field,
                    outcome.value,
                    dead_letter=outcome.dead_letter,
                ),
            )
        if written == 0:
            log.warning(
                "%s[%s]: outcome not recorded, the delivery was reclaimed (lease lost)",
                spec.name,
                invocation_id,
            )
        if outcome.retry_after is not None:
            # Celery counts and reports a retry (task-retried event); the message is already in
            # the scheduled set, so nothing is sent again.
            raise Retry(
                outcome.error, when=datetime.now(UTC) + timedelta(seconds=outcome.retry_after)
            )
        if outcome.reraise is not None:
            raise outcome.reraise

    task: Task[Any, Any] = app.task(  # type: ignore[call-overload]
        run,
        name=spec.task_name,
        bind=True,
        Request="functions.worker.request:SpillwayRequest",
        time_limit=spec.time_limit,
        soft_time_limit=spec.soft_time_limit,
        # The invocation record is the result store; Celery's backend would write it twice.
        ignore_result=True,
        acks_late=True,
        reject_on_worker_lost=True,
        # Not shared: every app we build registers its own tasks (Celery's shared tasks would
        # attach to every later app in the process too).
        shared=False,
    )
    return task
