"""Celery's prefork pool, keeping track of the jobs a pool child will run after a broker loss.

When the broker connection breaks, Celery flushes the pool (celery 5.7
`worker/consumer/consumer.py`, `Consumer.on_close`, then `concurrency/asynpool.py`,
`AsynPool.flush`): every job a child has not yet acknowledged is dropped from the pool's
cache "since they will be redelivered by the broker". Yet a job already written to a child's
pipe (`_write_job` sets `job._write_to` before its first byte) is read and run by that child
all the same: nothing tells it otherwise, since Celery's prefork pool never turns on billiard's
`synack` (`concurrency/prefork.py`, `TaskPool.on_start`). Were the delivery put back, it
would run twice. Before the flush, this pool hands the Celery Request of each such job to
the worker's deliveries (`Deliveries.keep`), which then leave it in flight; the child's
outcome settles it in Redis (functions/worker/lua/finish.lua).
"""

from __future__ import annotations

from typing import Any

from celery.concurrency import prefork

from functions.worker import deliveries

# Celery's class, typed loosely: its stubs leave out `_pool` and the `flush` proxy.
_PreforkPool: Any = prefork.TaskPool


class TaskPool(_PreforkPool):  # type: ignore[misc]
    def on_start(self) -> None:
        super().on_start()
        # The billiard pool's flush, which prefork's on_start set as an attribute.
        flush = getattr(self, "flush", None)

        def keep_then_flush() -> None:
            runtime = deliveries.current()
            if runtime is not None:
                runtime.keep(written_requests(self._pool))
            if flush is not None:
                flush()

        self.flush = keep_then_flush


def written_requests(pool: Any) -> list[Any]:
    """Celery Requests of jobs written (or being written) to a child but not yet accepted."""
    found = []
    for job in tuple(pool._cache.values()):
        if job._accepted or job._write_to is None:
            continue
        request = getattr(job._accept_callback, "__self__", None)
        if request is not None:
            found.append(request)
    return found
