"""Worker liveness that means "still consuming" (served over HTTP by endpoint.py).

A consumer bootstep beats on the worker's event-loop timer only while the broker connection is up
and the task consumer is attached. When the beat is older than SPILLWAY_HEARTBEAT_MAX_AGE,
`/healthz` asks Redis itself:
- Redis answers: the worker is alive but no longer consuming (a hung loop, a consumer that never
  came back after a reconnect, cf. celery PR #8796): 503, and the kubelet restarts it.
- Redis does not answer: every worker is idle for the same reason and a restart cannot help; 200
  with status "broker_unavailable", so a Redis outage does not turn into a CrashLoopBackOff that
  delays recovery by minutes once Redis is back.
Before the first beat it answers 503 "starting" (same rule), so the path is also the startup
probe. (Celery's Helm chart probe runs `celery inspect ping`, a Python process and a broker round
trip per probe; this is a plain HTTP GET.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery import bootsteps

_state: dict[str, float] = {}


def last_beat() -> float | None:
    return _state.get("beat")


def beat() -> None:
    _state["beat"] = time.monotonic()


class Heartbeat(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, c: Any) -> None:
        interval = c.app.conf.spillway_heartbeat_interval
        self.tref = c.timer.call_repeatedly(interval, self._beat, (c,), priority=10)
        self._beat(c)

    def _beat(self, c: Any) -> None:
        connection = getattr(c, "connection", None)
        if connection is not None and connection.connected and c.task_consumer is not None:
            beat()

    def stop(self, c: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


def health(max_age: float, broker_answers: Callable[[], bool]) -> tuple[int, dict[str, Any]]:
    beat_at = last_beat()
    age = None if beat_at is None else time.monotonic() - beat_at
    shown = {} if age is None else {"heartbeat_age_seconds": round(age, 3)}
    if age is not None and age <= max_age:
        return 200, {"status": "ok", **shown}
    if not broker_answers():
        return 200, {"status": "broker_unavailable", **shown}
    return 503, {"status": "starting" if age is None else "stalled", **shown}


def broker_probe(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    import redis

    # One client for the worker's life: its pool reconnects a dropped connection on the next ping
    # and is thread-safe, as the probe runs on the HTTP server's threads.
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    return answers
