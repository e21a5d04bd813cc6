"""Where the local scaler publishes its state, for `spillway load`, tests and people.

Redis key `<SPILLWAY_KEY_PREFIX>spillway:dev:scaler`: a JSON object rewritten every half second,
with a 30 s TTL so a stopped `spillway dev` leaves nothing stale behind. Fields: updated_at, fast,
fast_factor (how much faster than real time the scaler's clock runs), worker_concurrency, min,
max, desired, running, ready, terminating, queue_depth, in_flight, last_decision and events (the
last 50 decisions), each decision `{"t", "from", "to", "rule"}`: `t` is Unix time, and the rule
names times and waits on that clock too (functions/dev/clock.py).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import redis

STATE_KEY = "spillway:dev:scaler"
STATE_TTL = 30
MAX_EVENTS = 50


def state_key(prefix: str) -> str:
    return f"{prefix}{STATE_KEY}"


@dataclass(frozen=True, slots=True)
class ScalingEvent:
    t: float
    from_: int
    to: int
    rule: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        return data


class StatePublisher:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = state_key(prefix)
        self.events: deque[ScalingEvent] = deque(maxlen=MAX_EVENTS)

    def record(self, event: ScalingEvent) -> None:
        self.events.append(event)

    def publish(self, state: dict[str, Any]) -> None:
        document = {
            **state,
            "last_decision": self.events[-1].as_json() if self.events else None,
            "events": [e.as_json() for e in self.events],
        }
        try:
            self.client.set(self.key, json.dumps(document), ex=STATE_TTL)
        except redis.RedisError:
            pass  # Redis away: the scaler keeps deciding on what it last saw
