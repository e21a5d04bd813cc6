"""Where a queued invocation stands: its position in its queue and when it should start.

O(1) in Redis, however long the queue: the submit scripts give each record its `seq` (the
queue's enqueue count), the worker's fetch script counts what leaves the queue (`out`, less
what is put back at its head) and measures the drain rate while the queue has a backlog
(functions/worker/lua/_lib.lua, `position_taken`). So the position is `seq - out` and the
estimated start `now + position / rate`. Both are estimates:
- the position counts every message ahead, cancelled ones included (a worker skips those at
  once), and not those a dead-letter replay put back (they are not counted in);
- the rate is the last 5 s window of draining, so a scale-out or a change in the work ahead
  shows only once a window has passed; before any window completed there is no estimate.
tests/e2e/test_position.py measures how close it comes on a known drain. KEDA's backlog (the
queue list's length plus the in-flight hash) is untouched: these are separate counters.
"""

from __future__ import annotations

import time
from typing import Any

from functions import keys, records
from functions.api.submit import Submitter


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except ValueError:
        return None


async def queue_position(submitter: Submitter, invocation_id: str, function: str) -> dict[str, Any]:
    """`{position, drain_rate, estimated_start_at}` of a queued invocation (nulls where unknown)."""
    prefix = submitter.settings.KEY_PREFIX
    spec = submitter.registry.get(function)
    unknown: dict[str, Any] = {"position": None, "drain_rate": None, "estimated_start_at": None}
    if spec is None:
        return unknown
    seq, counters = await submitter.call(
        submitter.redis.pipeline(
            [
                ("HGET", keys.record_key(prefix, invocation_id), "seq"),
                ("HMGET", keys.position_key(prefix, spec.queue), "out", "rate"),
            ],
            timeout=submitter.settings.REDIS_TIMEOUT,
        )
    )
    mine, taken, rate = _number(seq), _number(counters[0]) or 0.0, _number(counters[1])
    if mine is None:  # submitted before positions were kept
        return unknown
    position = max(1, int(mine - taken))
    start = time.time() + position / rate if rate else None
    return {
        "position": position,
        "drain_rate": rate,
        "estimated_start_at": records.iso_time(start),
    }
