"""Celery's consumer with task events sent in batches, at most every `EVENTS_FLUSH_DELAY`.

Task events stay on (Flower needs task-received, -started, -succeeded/-failed), but Celery
publishes the buffered ones on the next turn of the event loop (`Consumer.on_send_event_buffered`
-> `hub.call_soon`). With prefetch disabled each turn holds one task, so that is up to three
PUBLISH round trips to Redis per task, all on the consumer's path from one task to the next,
which made task events the worker's largest cost (measured: docs/benchmarks.md, "Where the time
goes").
Waiting a little lets one `task.multi` message (celery.events.dispatcher.EventDispatcher.flush)
carry the events of every task in that window; Flower handles `task.multi` the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

log = logging.getLogger("spillway.worker")

# Seconds events may wait before they are published: invisible in Flower, and long enough
# for a busy worker to send the events of many tasks in one message. A full buffer
# (Celery's buffer_limit, 24 events) is still sent at once.
EVENTS_FLUSH_DELAY = 0.1


class Consumer(CeleryConsumer):
    # Set by Celery's Consumer; its type stubs leave them out.
    hub: Any
    _flush_events: Callable[[], None]
    _flush_pending = False

    def on_send_event_buffered(self) -> None:  # type: ignore[override]  # Celery ignores the value
        if self.hub is None or self._flush_pending:
            return
        self._flush_pending = True
        self.hub.call_later(EVENTS_FLUSH_DELAY, self._flush_buffered_events)

    def _flush_buffered_events(self) -> None:
        self._flush_pending = False
        self._flush_events()

    def _flush_before_close(self) -> None:
        # Celery closes the dispatcher on stop and shutdown without sending what it buffered;
        # a failed send goes to the dispatcher's outbound buffer, which survives a reconnect.
        # A timer lost with the old connection must not leave later events waiting for a full
        # buffer, hence the reset.
        self._flush_pending = False
        try:
            self._flush_events()
        except Exception:  # the connection may already be gone; events are best effort
            log.debug("could not flush buffered task events", exc_info=True)

    def stop(self) -> None:
        self._flush_before_close()
        super().stop()

    def shutdown(self) -> None:
        self._flush_before_close()
        super().shutdown()
