"""Reading Celery task events off Redis, as Flower does (kombu's fanout channel for celeryev)."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from typing import Any

import redis


def decode(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events in one published kombu message: a list for `task.multi`, else one event."""
    envelope = json.loads(message["data"])
    body = envelope["body"]
    if envelope["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    decoded = json.loads(body)
    return decoded if isinstance(decoded, list) else [decoded]


class EventWatch:
    """Subscribes at once; `collect` gathers the event types of the given task ids in order."""

    def __init__(self, redis_url: str) -> None:
        client = redis.Redis.from_url(redis_url)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.psubscribe("*celeryev*")
        self.messages = 0

    def collect(self, ids: set[str], until: list[str], timeout: float) -> dict[str, list[str]]:
        """Event types per id, until every id has seen `until` or `timeout` passes."""
        seen: dict[str, list[str]] = defaultdict(list)
        deadline = time.monotonic() + timeout
        while any(seen[i] != until for i in ids) and time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            self.messages += 1
            for event in decode(message):
                if event.get("uuid") in ids:
                    seen[event["uuid"]].append(event["type"])
        return {i: seen[i] for i in ids}

    def close(self) -> None:
        self._pubsub.close()
