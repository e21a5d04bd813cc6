"""The open-loop producer: sends each request at its scheduled time, whatever came back before.

A slow API therefore shows up as submit latency, not as a lower offered rate. The one thing that
can delay a send is the bound on requests in flight (`--max-in-flight`, which also caps the
connection pool): every request that had to wait for a slot is counted and reported, with how late
it went out, because past that point the run is no longer open-loop.

429 and 503 answers are retried after their `Retry-After` (capped), transport errors after a
short backoff, at most `retries` times per request; a waiting retry holds no slot. Every request
carries an `Idempotency-Key`, so a retry after a timeout cannot enqueue the invocation twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from functions.loadtest.config import key_headers
from functions.loadtest.profiles import groups
from functions.loadtest.records import Arrival, Clock, RequestRecord


@dataclass(frozen=True)
class ProducerConfig:
    url: str
    function: str
    payload: Any
    run_id: str
    batch: int = 0  # 0: one invocation per request; N: the batch endpoint with N items
    max_in_flight: int = 256
    timeout: float = 30.0
    retries: int = 3
    max_retry_wait: float = 30.0


class Producer:
    def __init__(self, config: ProducerConfig, times: Sequence[float], clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.plan = groups(times, config.batch or 1)
        self.arrivals = [
            Arrival(index=i, request=n, scheduled_t=times[i])
            for n, (_, indexes) in enumerate(self.plan)
            for i in indexes
        ]
        self.requests: list[RequestRecord] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.slot_waits = 0  # requests that found every slot taken when they were due
        self.max_send_delay = 0.0  # how late the latest request went out, seconds
        self.answered = 0  # invocations with a final answer (accepted or rejected)
        self._slots = asyncio.Semaphore(config.max_in_flight)

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=self.config.max_in_flight,
            max_keepalive_connections=self.config.max_in_flight,
        )
        # $SPILLWAY_API_KEY on every request (submits and the drain's polls), for an API that
        # requires keys.
        return httpx.AsyncClient(
            base_url=self.config.url,
            timeout=self.config.timeout,
            limits=limits,
            headers=key_headers(),
        )

    async def run(self, client: httpx.AsyncClient) -> None:
        tasks: list[asyncio.Task[None]] = []
        for number, (due, indexes) in enumerate(self.plan):
            delay = due - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            items = [self.arrivals[i] for i in indexes]
            tasks.append(asyncio.create_task(self._request(client, number, due, items)))
        await asyncio.gather(*tasks)

    async def _request(
        self, client: httpx.AsyncClient, number: int, due: float, items: list[Arrival]
    ) -> None:
        path = f"/v1/functions/{self.config.function}/invocations"
        if self.config.batch:
            path += "/batch"
            body: Any = {"items": [self.config.payload] * len(items)}
        else:
            body = self.config.payload
        content = json.dumps(body).encode()
        headers = {
            "content-type": "application/json",
            "idempotency-key": f"{self.config.run_id}-{number}",
        }
        for attempt in range(1, self.config.retries + 2):
            if attempt == 1 and self._slots.locked():
                self.slot_waits += 1
                for item in items:
                    item.waited_for_slot = True
            async with self._slots:
                sent = self.clock.now()
                if attempt == 1:
                    self.max_send_delay = max(self.max_send_delay, sent - due)
                    for item in items:
                        item.first_sent_t = sent
                response, error = await self._post(client, path, content, headers)
                answered = self.clock.now()
            status = response.status_code if response is not None else None
            retry_after = _retry_after(response)
            self.requests.append(
                RequestRecord(
                    number,
                    attempt,
                    len(items),
                    sent,
                    answered,
                    status,
                    retry_after,
                    error or problem_detail(response),
                )
            )
            for item in items:
                item.attempts = attempt
                item.answered_t = answered
                item.submit_latency_s = answered - sent
            if response is not None and status in (200, 202):
                self._accept(items, response)
                return
            retryable = status in (429, 503) or status is None
            if not retryable or attempt > self.config.retries:
                self._reject(items, _reason(status), error or problem_detail(response))
                return
            if status is not None:
                for item in items:
                    item.throttled += 1
            wait = retry_after if retry_after is not None else 0.5 * 2 ** (attempt - 1)
            await asyncio.sleep(min(wait, self.config.max_retry_wait))

    async def _post(
        self, client: httpx.AsyncClient, path: str, content: bytes, headers: dict[str, str]
    ) -> tuple[httpx.Response | None, str]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            response = await client.post(path, content=content, headers=headers)
            await response.aread()
            return response, ""
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.in_flight -= 1

    def _accept(self, items: list[Arrival], response: httpx.Response) -> None:
        try:
            data = response.json()
            ids = data["ids"] if self.config.batch else [data["id"]]
        except (ValueError, KeyError, TypeError):
            ids = None
        if not isinstance(ids, list) or len(ids) != len(items):
            self._reject(items, "bad-response", f"HTTP {response.status_code} without the ids")
            return
        for item, invocation_id in zip(items, ids, strict=True):
            item.outcome, item.id = "accepted", str(invocation_id)
        self.answered += len(items)

    def _reject(self, items: list[Arrival], reason: str, detail: str) -> None:
        for item in items:
            item.outcome, item.reason, item.error = "rejected", reason, detail
        self.answered += len(items)


def _reason(status: int | None) -> str:
    if status is None:
        return "transport"
    return {429: "backlog-429", 503: "unavailable-503"}.get(status, f"http-{status}")


def problem_detail(response: httpx.Response | None) -> str:
    """What an error answer says, in one line: an RFC 9457 problem's detail and its first
    invalid field, else the start of the body."""
    if response is None or response.status_code < 400:
        return ""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return response.text.strip().replace("\n", " ")[:200]
    text = str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    errors = problem.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text += f": {first.get('path', '')} {first.get('message', '')}".rstrip()
        if len(errors) > 1:
            text += f" (and {len(errors) - 1} more)"
    return text[:300]


def _retry_after(response: httpx.Response | None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
