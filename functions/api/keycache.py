"""The API keys one API process has read, each held for at most SPILLWAY_AUTH_CACHE seconds.

Holding a key saves a Redis round trip on every request (a submit stays one round trip); the
bound is what a revocation or a rotation costs: every replica reads the key again within it.
A key that was not found is held too, for the same time: otherwise an unknown id would cost a
round trip that a known id with a wrong secret does not, and the time of a refusal would tell
whether a key id exists (bench/authtiming.py measures it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from functions.apikeys.model import ApiKey

# Ids are random: past this many held entries (a flood of made-up ids) the cache starts over.
MAX_ENTRIES = 10_000

# A record as a key's HMGET returns it, for unknown ids to decode (functions/api/submit.py).
_STAND_IN: dict[bytes, Any] = {
    name.encode(): value.encode()
    for name, value in ApiKey(
        id="0" * 16, tenant="stand-in", sha256="0" * 64, rate=1.0, burst=1, max_backlog=1,
        expires=1.0, created_at=1.0,
    ).to_fields().items()
}  # fmt: skip

Fetch = Callable[[str], Awaitable[Mapping[bytes, Any]]]


class Held:
    """A key as read, until `until`; `derived` keeps what a caller computes from it once (the
    authenticated caller with its limits) and `secret` the secret verified against it, so a
    request served from memory does not redo either. Both go when the entry does."""

    __slots__ = ("until", "key", "derived", "secret")

    def __init__(self, until: float, key: ApiKey | None) -> None:
        self.until = until
        self.key = key
        self.derived: Any = None
        self.secret: str | None = None  # a secret verified against `key` (functions/api/auth.py)


class KeyCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, Held] = {}

    async def get(self, key_id: str, fetch: Fetch) -> Held:
        now = time.monotonic()
        held = self._entries.get(key_id)
        if held is not None and held.until > now:
            return held
        raw = await fetch(key_id)  # RedisUnavailable: the 503 problem, nothing held
        # An unknown id (every field None) decodes a stand-in record of the same shape: the
        # same work as a known one (about 10 us less otherwise, bench/authtiming.py).
        found = raw.get(b"sha256") is not None
        decoded = ApiKey.from_fields(key_id, raw if found else _STAND_IN)
        key = decoded if found else None
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        held = self._entries[key_id] = Held(now + self.ttl, key)
        return held
