"""The worker's side of invocation records (their fields: functions/records.py).

A task moves its record to `running` (counting attempts), then to `succeeded`, `failed` or
`retrying`; every write renews the record's TTL. One store, and one Redis client, per process.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis

from functions import keys, records
from functions.settings import Settings

# Moves a record to `running` unless it is already terminal: a redelivered message whose
# invocation already finished (the worker died between writing the result and acking) is skipped.
_BEGIN_LUA = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'succeeded' or status == 'failed' then return {-1, status, ''} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local submitted = redis.call('HGET', KEYS[1], 'submitted_at')
if not submitted then
  submitted = ARGV[1]
  redis.call('HSET', KEYS[1], 'submitted_at', submitted)
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'function', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {attempts, status or '', submitted}
"""


@dataclass(frozen=True, slots=True)
class Started:
    attempts: int
    submitted_at: float
    started_at: float

    @property
    def queue_wait(self) -> float:
        return max(0.0, self.started_at - self.submitted_at)


class RecordStore:
    """The worker's view of invocation records."""

    def __init__(self, redis: Redis, prefix: str, ttl: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self._begin = redis.register_script(_BEGIN_LUA)

    def key(self, invocation_id: str) -> str:
        return keys.record_key(self.prefix, invocation_id)

    def begin(self, invocation_id: str, function: str) -> Started | None:
        """Mark running; None when the invocation already reached a terminal state."""
        now = time.time()
        attempts, _, submitted = self._begin(
            keys=[self.key(invocation_id)], args=[f"{now:.6f}", function, self.ttl]
        )
        if int(attempts) < 0:
            return None
        return Started(attempts=int(attempts), submitted_at=float(submitted), started_at=now)

    def succeed(self, invocation_id: str, result: dict[str, Any]) -> None:
        self._finish(invocation_id, records.Status.SUCCEEDED, {records.RESULT: json.dumps(result)})

    def fail(self, invocation_id: str, error: str) -> None:
        self._finish(invocation_id, records.Status.FAILED, {records.ERROR: error})

    def retrying(self, invocation_id: str, error: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(
            self.key(invocation_id),
            mapping={records.STATUS: records.Status.RETRYING.value, records.ERROR: error},
        )
        pipe.expire(self.key(invocation_id), self.ttl)
        pipe.execute()

    def _finish(self, invocation_id: str, status: records.Status, fields: dict[str, str]) -> None:
        key = self.key(invocation_id)
        pipe = self.redis.pipeline(transaction=True)
        mapping = {
            records.STATUS: status.value,
            records.FINISHED_AT: f"{time.time():.6f}",
            **fields,
        }
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        if status is records.Status.SUCCEEDED:
            pipe.hdel(key, records.ERROR)
        pipe.expire(key, self.ttl)
        pipe.execute()


_stores: dict[int, RecordStore] = {}


def record_store(settings: Settings) -> RecordStore:
    """One Redis client per process: pool children are forked, and a client must not be shared
    across a fork."""
    pid = os.getpid()
    store = _stores.get(pid)
    if store is None:
        client = Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=10,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=30,
        )
        store = _stores[pid] = RecordStore(client, settings.KEY_PREFIX, settings.RESULT_TTL)
    return store
