"""After the last send: poll every accepted invocation until it has finished, or time is up.

The polls go through the API (`GET /v1/invocations/{id}`), the contract a producer has. Their
timing does not affect what is measured: queue wait, run time and drain time come from the
record's own timestamps. Each round polls the next window of unfinished invocations, so a few
stuck ones cannot starve the rest, and the API sees a bounded number of requests at once.
An invocation still unfinished at `--drain-timeout` (or whose record is gone) is `lost`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from functions.loadtest.records import Arrival, Clock

TERMINAL = ("succeeded", "failed", "cancelled")  # records.TERMINAL, without importing it


class Drain:
    def __init__(
        self, arrivals: Sequence[Arrival], clock: Clock, timeout: float, concurrency: int = 32
    ) -> None:
        self.pending = [a for a in arrivals if a.outcome == "accepted"]
        self.total = len(self.pending)
        self.clock = clock
        self.timeout = timeout
        self.concurrency = concurrency
        self.window = concurrency * 8
        self.finished = 0

    async def run(self, client: httpx.AsyncClient) -> None:
        deadline = self.clock.now() + self.timeout
        slots = asyncio.Semaphore(self.concurrency)
        cursor = 0
        while self.pending and self.clock.now() < deadline:
            cursor %= len(self.pending)
            batch = self.pending[cursor : cursor + self.window]
            done = await asyncio.gather(*(self._poll(client, slots, a) for a in batch))
            finished = {id(a) for a, ok in zip(batch, done, strict=True) if ok}
            self.finished += len(finished)
            self.pending = [a for a in self.pending if id(a) not in finished]
            cursor += len(batch) - len(finished)
            if not finished:
                await asyncio.sleep(min(0.2, max(0.0, deadline - self.clock.now())))
        for arrival in self.pending:
            last_seen = arrival.status or "unknown"
            arrival.status = "lost"
            arrival.error = arrival.error or f"still {last_seen} after --drain-timeout"

    async def _poll(self, client: httpx.AsyncClient, slots: asyncio.Semaphore, a: Arrival) -> bool:
        async with slots:
            try:
                response = await client.get(f"/v1/invocations/{a.id}")
            except httpx.HTTPError:
                return False
        if response.status_code == 404:
            a.status, a.error = "lost", "the API has no record of it (404)"
            return True
        if response.status_code != 200:
            return False
        data = response.json()
        a.status = str(data.get("status", ""))
        a.worker_attempts = int(data.get("attempts") or 0)
        a.submitted_t = self.clock.from_iso(data.get("submitted_at"))
        a.started_t = self.clock.from_iso(data.get("started_at"))
        a.finished_t = self.clock.from_iso(data.get("finished_at"))
        if a.status == "failed":
            a.error = str(data.get("error") or "")[:300]
        return a.status in TERMINAL
