"""Deliveries in Redis: the scripts that take, settle, retry and recover them.

Each step that moves a message is one Lua script (functions/worker/lua/), so a message is always
in exactly one place a reader can count: its queue list, the pool's in-flight hash (what KEDA
counts with the queue), the scheduled set, or the dead-letter store. The scripts share
`lua/_lib.lua`, which documents the key layout.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script

from functions import keys


@dataclass(frozen=True, slots=True)
class PoolKeys:
    """The keys one worker pool shares (every name already carries SPILLWAY_KEY_PREFIX)."""

    prefix: str
    inflight: str
    leases: str
    scheduled: str
    sweep: str

    @classmethod
    def of(cls, prefix: str, pool: str) -> PoolKeys:
        return cls(
            prefix=prefix,
            inflight=keys.unacked_key(prefix, pool),
            leases=keys.leases_key(prefix, pool),
            scheduled=keys.scheduled_key(prefix, pool),
            sweep=keys.sweep_key(prefix, pool),
        )


@cache
def source(name: str) -> str:
    """A script's text with the shared library in front of it."""
    folder = resources.files("functions.worker") / "lua"
    return (folder / "_lib.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


def new_tag_suffix() -> str:
    """The random part of a delivery tag (the invocation id is the other)."""
    return secrets.token_hex(6)


def now() -> str:
    return f"{time.time():.6f}"


def error_json(error_type: str, message: str, traceback: list[str] | None = None) -> str:
    """The error of a dead letter: its type, a message and where it was raised (file, line and
    function of each frame), never the payload."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if traceback:
        error["traceback"] = traceback
    return json.dumps(error)


class Inflight:
    """Synchronous calls on a pool's deliveries, for the worker's main process and its children.

    Every method but `fetch_args` runs one script and returns what it returns (each script's
    header says what its numbers mean).
    """

    def __init__(
        self,
        redis: Redis,
        pool: PoolKeys,
        *,
        record_ttl: int,
        dead_letter_max: int,
        dead_letter_max_bytes: int = 0,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.record_ttl = record_ttl
        self.dead_letter_max = dead_letter_max
        self.dead_letter_max_bytes = dead_letter_max_bytes  # 0: bounded by count only
        self._scripts: dict[str, Script] = {}

    def _run(self, name: str, keys_: list[str], args: list[Any]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(source(name))
        return script(keys=keys_, args=[self.pool.prefix, now(), *args])

    def fetch_args(
        self, worker: str, queue_keys: list[str], max_lost: int
    ) -> tuple[list[str], list[str]]:
        """Keys and arguments of one fetch, for the transport's asynchronous EVALSHA."""
        return (
            [self.pool.inflight, self.pool.leases, *queue_keys],
            [self.pool.prefix, now(), worker, new_tag_suffix(), str(max_lost)],
        )

    def settle(self, worker: str, tag: str, mode: str, event: str, lost: bool = False) -> int:
        return int(
            self._run(
                "settle", [self.pool.inflight], [worker, tag, mode, event, "1" if lost else "0"]
            )
        )

    def finish(
        self,
        worker: str,
        tag: str,
        invocation_id: str,
        status: str,
        field: str,
        value: str,
        dead_letter: tuple[str, str] | None = None,
    ) -> int:
        """Record a final outcome; `dead_letter` is (reason, error JSON) for a failure for good."""
        reason, error = dead_letter or ("", "{}")
        return int(
            self._run(
                "finish",
                [self.pool.inflight, keys.record_key(self.pool.prefix, invocation_id)],
                [
                    worker,
                    tag,
                    status,
                    field,
                    value,
                    self.record_ttl,
                    reason,
                    error,
                    self.dead_letter_max,
                    self.dead_letter_max_bytes,
                ],
            )
        )

    def retry(
        self, worker: str, tag: str, invocation_id: str, delay: float, error: str, retries: int
    ) -> int:
        return int(
            self._run(
                "retry",
                [
                    self.pool.inflight,
                    self.pool.scheduled,
                    keys.record_key(self.pool.prefix, invocation_id),
                ],
                [worker, tag, int(delay * 1000), error, retries],
            )
        )

    def hold(self, worker: str, tag: str, task: str, delay: float, limit: float) -> int:
        return int(
            self._run(
                "hold",
                [self.pool.inflight, self.pool.scheduled],
                [
                    worker,
                    tag,
                    int(delay * 1000),
                    f"{limit:g}",
                    task,
                    self.dead_letter_max,
                    self.record_ttl,
                    self.dead_letter_max_bytes,
                ],
            )
        )

    def defer(self, worker: str, tag: str, due: float) -> int:
        """Schedule a delivery for `due` (Unix seconds)."""
        return int(
            self._run(
                "defer",
                [self.pool.inflight, self.pool.scheduled],
                [worker, tag, int(due * 1000)],
            )
        )

    def quarantine(self, worker: str, tag: str, reason: str, error_type: str, message: str) -> int:
        return int(
            self._run(
                "quarantine",
                [self.pool.inflight],
                [
                    worker,
                    tag,
                    reason,
                    error_json(error_type, message),
                    self.dead_letter_max,
                    self.record_ttl,
                    f"{error_type}: {message}",
                    self.dead_letter_max_bytes,
                ],
            )
        )

    def held(self, worker: str) -> set[str]:
        """The delivery tags the lease `worker` holds in flight."""
        return {
            tag.decode() if isinstance(tag, bytes) else str(tag)
            for tag in self.redis.smembers(keys.held_key(self.pool.prefix, worker))
        }

    def sweep(self, interval: float, lease_ttl: float, limit: int = 500) -> tuple[int, int]:
        promoted, reclaimed = self._run(
            "sweep",
            [self.pool.leases, self.pool.inflight, self.pool.scheduled, self.pool.sweep],
            [int(interval * 1000), int(lease_ttl * 1000), limit],
        )
        return int(promoted), int(reclaimed)

    def acquire(self, worker: str, ttl: float, tasks: list[str]) -> None:
        self._run(
            "lease",
            [self.pool.leases, self.pool.inflight],
            [worker, "acquire", int(ttl * 1000), *tasks],
        )

    def renew(self, worker: str, ttl: float) -> bool:
        return bool(
            self._run(
                "lease", [self.pool.leases, self.pool.inflight], [worker, "renew", int(ttl * 1000)]
            )
        )

    def release(self, worker: str) -> int:
        return int(
            self._run("lease", [self.pool.leases, self.pool.inflight], [worker, "release", 0])
        )
