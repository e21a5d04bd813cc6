"""Celery tasks generated from the registry: thin wrappers over execution.py and store.py."""

from __future__ import annotations

import logging
import time
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery import Celery, Task

from functions.registry import FunctionSpec
from functions.settings import Settings
from functions.worker import execution, metrics
from functions.worker.store import record_store

log = logging.getLogger("spillway.worker")


class SpillwayTask(Task[Any, Any]):
    spec: FunctionSpec
    settings: Settings

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Celery calls this in the worker's main process when the hard time limit kills the
        # child (celery/worker/request.py, Request.on_timeout); the child never got to record it.
        if isinstance(exc, TimeLimitExceeded):
            record_store(self.settings).fail(
                task_id, f"TimeLimitExceeded: hard time limit of {self.spec.time_limit:g}s"
            )
            metrics.OUTCOMES.labels(self.spec.name, "timeout").inc()


def register(app: Celery, spec: FunctionSpec, settings: Settings) -> Task[Any, Any]:
    def run(self: SpillwayTask, payload: dict[str, Any]) -> None:
        store = record_store(settings)
        invocation_id = str(self.request.id)
        started = store.begin(invocation_id, spec.name)
        if started is None:
            log.info("%s[%s] already finished; skipping redelivery", spec.name, invocation_id)
            metrics.OUTCOMES.labels(spec.name, "duplicate").inc()
            return
        if started.attempts == 1:
            metrics.QUEUE_WAIT.labels(spec.name).observe(started.queue_wait)
        if started.attempts > spec.max_deliveries:
            # A message that keeps killing its worker would loop forever under
            # task_reject_on_worker_lost; Redis keeps no delivery count, so we do (celery#8969).
            store.fail(
                invocation_id,
                f"gave up after {started.attempts - 1} deliveries that "
                "never finished (the worker was lost each time)",
            )
            metrics.OUTCOMES.labels(spec.name, "poisoned").inc()
            return
        t0 = time.perf_counter()
        try:
            result = execution.call_function(spec, payload)
        except SoftTimeLimitExceeded:
            store.fail(invocation_id, f"TimeLimitExceeded: time limit of {spec.time_limit:g}s")
            metrics.OUTCOMES.labels(spec.name, "timeout").inc()
            raise
        except Exception as exc:
            metrics.DURATION.labels(spec.name).observe(time.perf_counter() - t0)
            retries = self.request.retries
            if spec.retry.retryable(exc) and retries + 1 < spec.retry.attempts:
                store.retrying(invocation_id, execution.describe(exc))
                metrics.OUTCOMES.labels(spec.name, "retried").inc()
                raise self.retry(
                    exc=exc,
                    countdown=spec.retry.delay(retries),
                    max_retries=spec.retry.attempts - 1,
                ) from exc
            store.fail(invocation_id, execution.describe(exc))
            metrics.OUTCOMES.labels(spec.name, "failed").inc()
            raise
        metrics.DURATION.labels(spec.name).observe(time.perf_counter() - t0)
        store.succeed(invocation_id, result)
        metrics.OUTCOMES.labels(spec.name, "succeeded").inc()

    task: Task[Any, Any] = app.task(  # type: ignore[call-overload]
        run,
        name=spec.task_name,
        bind=True,
        base=SpillwayTask,
        spec=spec,
        settings=settings,
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
