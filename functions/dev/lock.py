"""One `spillway dev` per Redis and key prefix.

Two of them on one Redis would run two scalers on the same queue, each starting workers for the
whole backlog, and each reading the other's workers as its own in-flight tasks. So each holds a
key, `<SPILLWAY_KEY_PREFIX>spillway:dev:lock`, that says who it is and expires unless renewed:
a second one finds it and refuses to start, and one killed with SIGKILL frees it within
`TTL` seconds. A private Redis (no REDIS_URL) is never shared, so it always gets the key.
"""

from __future__ import annotations

import json
import os
import secrets
import time

import redis

from functions.dev.errors import AlreadyRunning

LOCK_KEY = "spillway:dev:lock"
TTL = 10  # seconds a holder that stopped renewing keeps the key
RENEW_EVERY = 2.0

# Renew the key while it is ours or free, delete it only while it is ours: a holder that
# paused past TTL may have lost it to another.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


class DevLock:
    def __init__(self, client: redis.Redis, prefix: str, api_url: str) -> None:
        self.client = client
        self.key = f"{prefix}{LOCK_KEY}"
        self.value = json.dumps({"pid": os.getpid(), "api": api_url, "token": secrets.token_hex(8)})
        self._renewed = 0.0

    def acquire(self, redis_shown: str) -> None:
        """Take the key, or raise AlreadyRunning naming the other `spillway dev`."""
        if self.client.set(self.key, self.value, nx=True, ex=TTL):
            self._renewed = time.monotonic()
            return
        holder = self.client.get(self.key)
        try:
            other = json.loads(holder or b"{}")
        except ValueError:
            other = {}
        raise AlreadyRunning(
            f"another spillway dev (pid {other.get('pid', '?')}, API {other.get('api', '?')}) "
            f"is running on the Redis at {redis_shown}: stop it, or unset REDIS_URL so this "
            "one starts a private Redis"
        )

    def renew(self) -> None:
        """Keep the key; call often (every tick), it writes only every RENEW_EVERY seconds."""
        now = time.monotonic()
        if now - self._renewed < RENEW_EVERY:
            return
        try:
            self.client.eval(_RENEW, 1, self.key, self.value, TTL)
            self._renewed = now
        except redis.RedisError:
            pass  # Redis away for a moment: the key lives TTL seconds, the next tick retries

    def release(self) -> None:
        try:
            self.client.eval(_RELEASE, 1, self.key, self.value)
        except redis.RedisError:
            pass  # the key expires by itself
