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


class Observer:
    def __init__(self, client: redis.Redis, prefix: str, queues: list[str], api_url: str) -> None:
        self.client = client
        self.queue_keys = [keys.queue_key(prefix, q) for q in queues]
        self.unacked = keys.unacked_key(prefix)
        self.api_url = api_url

    def observe(self, extra_keys: list[str] | None = None) -> Observation:
        wanted = list(dict.fromkeys([*self.queue_keys, self.unacked, *(extra_keys or [])]))
        pipe = self.client.pipeline(transaction=False)
        for key in wanted:
            # KEDA's redis scaler picks the command by the key's type (LLEN/HLEN/ZCARD/SCARD).
            pipe.type(key)
        types = pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for key, kind in zip(wanted, types, strict=True):
            command = {b"hash": pipe.hlen, b"zset": pipe.zcard, b"set": pipe.scard}.get(
                kind, pipe.llen
            )
            command(key)
        lengths = dict(zip(wanted, (int(v) for v in pipe.execute()), strict=True))
        return Observation(
            at=time.time(),
            lengths=lengths,
            queue_depth=sum(lengths[k] for k in self.queue_keys),
            in_flight=lengths[self.unacked],
            submitted=self._submitted(),
        )

    def _submitted(self) -> float | None:
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
