"""Celery's task Request, taught two things the worker's main process must record itself.

- A pool child that died while running a task (OOM killer, a crash in native code) makes Celery
  requeue the message (task_reject_on_worker_lost). That delivery counts towards the poison
  limit (SPILLWAY_MAX_LOST), unless the child was stopped by the lease fence (SIGALRM, see
  functions/worker/fence.py): a fenced task says nothing about the task, only about its worker's
  lease.
- A task killed at its hard time limit never gets to record anything (celery/worker/request.py,
  `Request.on_timeout`): the main process fails the record, which also settles the delivery.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.exceptions import WorkerLostError
from celery.worker.request import Request
from redis.exceptions import RedisError

from functions.worker import deliveries
from functions.worker.inflight import error_json

log = logging.getLogger("spillway.worker")


class SpillwayRequest(Request):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runtime = deliveries.current()
        if runtime is not None:
            runtime.track(self.message.delivery_tag, self)

    def _delivery(self) -> dict[str, Any]:
        info = self.request_dict.get("spillway")
        return info if isinstance(info, dict) else {}

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = getattr(exc_info, "exception", None)
        exc = getattr(exc, "exc", exc)
        runtime = deliveries.current()
        if isinstance(exc, WorkerLostError) and runtime is not None:
            if "SIGALRM" in str(exc):
                log.warning("%s[%s] stopped by the lease fence", self.name, self.id)
            else:
                runtime.mark_lost(self.message.delivery_tag)
        return super().on_failure(exc_info, send_failed_event, return_ok)

    def on_timeout(self, soft: bool, timeout: float) -> Any:
        runtime = deliveries.current()
        delivery = self._delivery()
        if not soft and runtime is not None and delivery:
            text = f"TimeLimitExceeded: hard time limit of {timeout:g}s"
            try:
                runtime.inflight.finish(
                    delivery["worker"],
                    delivery["tag"],
                    self.id,
                    "failed",
                    "error",
                    text,
                    dead_letter=(
                        "retries_exhausted",
                        error_json("TimeLimitExceeded", text),
                    ),
                )
            except RedisError as exc:
                # The delivery stays in flight: the ack that follows puts it back (settle.lua).
                log.warning("could not record the time limit of %s: %s", self.id, exc)
        return super().on_timeout(soft, timeout)
