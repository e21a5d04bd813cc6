"""What the local scaler sees: the same Redis keys KEDA's trigger reads, plus the API's counters."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass

import redis

from functions import keys


@dataclass(frozen=True, slots=True)
class Observation:
    at: float
    lengths: dict[str, int]  # Redis key -> LLEN/HLEN, as KEDA's redis scaler would read it
    queue_depth: int
    in_flight: int
    submitted: float | None  # the API's spillway_invocations_submitted_total, all functions


# What KEDA's redis scaler runs for one key (pkg/scalers/redis_scaler.go): the length command
# that fits the key's type, a missing key reading 0; here for every key in one round trip.
_LENGTHS_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then out[i] = redis.call('HLEN', key)
  elseif kind == 'zset' then out[i] = redis.call('ZCARD', key)
  elseif kind == 'set' then out[i] = redis.call('SCARD', key)
  else out[i] = redis.call('LLEN', key) end
end
return out
"""
# The API's counters change the live view's rates only: a scrape a second is plenty (each scrape
# also costs the API a Redis round trip).
SCRAPE_EVERY = 1.0


class Observer:
    def __init__(self, client: redis.Redis, prefix: str, queues: list[str], api_url: str) -> None:
        self.client = client
        self.queue_keys = [keys.queue_key(prefix, q) for q in queues]
        self.unacked = keys.unacked_key(prefix)
        self.api_url = api_url
        self._lengths = client.register_script(_LENGTHS_LUA)
        self._scraped: tuple[float, float | None] = (-SCRAPE_EVERY, None)

    def observe(self, extra_keys: list[str] | None = None) -> Observation:
        wanted = list(dict.fromkeys([*self.queue_keys, self.unacked, *(extra_keys or [])]))
        lengths = dict(zip(wanted, (int(v) for v in self._lengths(keys=wanted)), strict=True))
        return Observation(
            at=time.time(),
            lengths=lengths,
            queue_depth=sum(lengths[k] for k in self.queue_keys),
            in_flight=lengths[self.unacked],
            submitted=self._submitted(),
        )

    def _submitted(self) -> float | None:
        last, value = self._scraped
        if time.monotonic() - last < SCRAPE_EVERY:
            return value
        value = self._scrape()
        self._scraped = (time.monotonic(), value)
        return value

    def _scrape(self) -> float | None:
        try:
            with urllib.request.urlopen(f"{self.api_url}/metrics", timeout=0.5) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        total = 0.0
        for line in text.splitlines():
            if line.startswith("spillway_invocations_submitted_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total
