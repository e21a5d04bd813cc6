"""One attempt at one delivery, and what follows from its answer.

A callback is the invocation's record (as `GET /v1/invocations/{id}` shows it, without the
callback's own state), POSTed as JSON and signed per Standard Webhooks (signing.py). A completion
event is the same record as the data of a CloudEvent in binary mode (events.py), POSTed to the
operator's sink. Both bodies are built from the snapshot the item carries, so every attempt sends
the same bytes under the same id.

What an answer means (Standard Webhooks "Retry schedule" and "Failures"; the brief of issue 14):
2xx delivered; 429 and 5xx and no answer at all (connection refused, reset, timeout) are retried
with exponential backoff and jitter, no sooner than a `Retry-After` asks; 3xx (redirects are not
followed) and every other 4xx fail at once, as does a target the SSRF guard refuses. A delivery
not done by its deadline (SPILLWAY_CALLBACK_DEADLINE after the invocation finished) is
dead-lettered with reason `callback_failed`.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from functions import records
from functions.sender.events import event_headers
from functions.sender.guard import TargetRefused
from functions.sender.outbox import Settlement
from functions.sender.signing import Secrets, sign
from functions.settings import Settings

USER_AGENT = "spillway-sender"


@dataclass(frozen=True, slots=True)
class Item:
    """A delivery as the outbox holds it (functions/worker/lua/_lib.lua, notify)."""

    raw: str
    kind: str  # callback | event
    id: str  # webhook-id / CloudEvent id: the same on every attempt
    invocation: str
    url: str
    at: float  # when the invocation finished (Unix seconds): the deadline counts from it
    attempts: int
    record: dict[str, str]
    fields: dict[str, Any]

    @classmethod
    def parse(cls, raw: str) -> Item:
        fields = json.loads(raw)
        if not isinstance(fields, dict):
            raise ValueError("an outbox item is a JSON object")
        flat = fields.get("record") or []
        record = {str(k): str(v) for k, v in zip(flat[::2], flat[1::2], strict=False)}
        return cls(
            raw=raw,
            kind=str(fields.get("kind", "")),
            id=str(fields.get("id", "")),
            invocation=str(fields.get("invocation", "")),
            url=str(fields.get("url", "")),
            at=float(fields.get("at") or 0),
            attempts=int(fields.get("attempts") or 0),
            record=record,
            fields=fields,
        )

    def view(self) -> dict[str, Any]:
        """The record as GET shows it, without the callback's delivery state (it is what is
        being delivered: it would change between attempts, and so would the signed body)."""
        view = records.decode(self.invocation, self.record)
        view.pop("callback", None)
        return view

    def again(self, attempts: int, status: int | None, error: str) -> str:
        """The item for its next attempt: the same delivery, counting what happened."""
        fields = dict(self.fields, attempts=attempts, last_status=status, last_error=error)
        return json.dumps(fields, separators=(",", ":"))


def body_of(item: Item) -> bytes:
    return json.dumps(item.view(), separators=(",", ":"), ensure_ascii=False).encode()


class Deliverer:
    """Makes attempts with two HTTP clients: callbacks through the SSRF guard, events to the
    operator's sink (usually in-cluster, so not guarded)."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets | None,
        callbacks: httpx.AsyncClient,
        events: httpx.AsyncClient | None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.callbacks = callbacks
        self.events = events

    def request(self, item: Item, now: float) -> tuple[httpx.AsyncClient, str, dict[str, str]]:
        """The client, URL and headers of one attempt at `item`."""
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if item.kind == "callback":
            if self.secrets is None:
                raise Unsendable("no SPILLWAY_CALLBACK_SECRET to sign callbacks with")
            timestamp = int(now)
            keys = self.secrets.secrets_for(item.record.get("tenant") or None)
            headers.update(
                {
                    "webhook-id": item.id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(keys, item.id, timestamp, body_of(item)),
                }
            )
            return self.callbacks, item.url, headers
        if item.kind == "event":
            if self.events is None or not self.settings.EVENTS_SINK:
                raise Unsendable("no events sink (K_SINK or SPILLWAY_EVENTS_SINK) is set")
            headers.update(event_headers(item.id, item.view(), self.settings.CE_OVERRIDES))
            return self.events, self.settings.EVENTS_SINK, headers
        raise Unsendable(f"unknown delivery kind {item.kind!r}")

    async def attempt(self, item: Item) -> Settlement:
        """Send `item` once and judge the answer."""
        now = time.time()
        attempts = item.attempts + 1
        try:
            client, url, headers = self.request(item, now)
            response = await client.post(url, content=body_of(item), headers=headers)
        except (TargetRefused, Unsendable) as exc:
            return Settlement("failed", attempts, error=str(exc), error_type=type(exc).__name__)
        except httpx.HTTPError as exc:  # no answer: connection refused, reset, timeout, ...
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self.retry_or_fail(item, attempts, None, error, now, 0.0)
        status = response.status_code
        if 200 <= status < 300:
            return Settlement("delivered", attempts, status=status)
        error = f"the receiver answered {status}"
        if status == 429 or status >= 500:
            return self.retry_or_fail(
                item, attempts, status, error, now, retry_after(response.headers, now)
            )
        why = "redirects are not followed" if 300 <= status < 400 else "not retried"
        return Settlement(
            "failed", attempts, status=status, error=f"{error} ({why})", error_type="Refused"
        )

    def retry_or_fail(
        self,
        item: Item,
        attempts: int,
        status: int | None,
        error: str,
        now: float,
        after: float,
    ) -> Settlement:
        deadline = item.at + self.settings.CALLBACK_DEADLINE
        if now >= deadline:
            return Settlement(
                "failed",
                attempts,
                status=status,
                error=f"not delivered within {self.settings.CALLBACK_DEADLINE:g} s "
                f"(SPILLWAY_CALLBACK_DEADLINE) after {attempts} attempts; last: {error}",
                error_type="DeadlinePassed",
            )
        delay = max(backoff(attempts, self.settings), after)
        due = min(now + delay, deadline)  # a last attempt at the deadline, not beyond it
        return Settlement(
            "retry",
            attempts,
            status=status,
            error=error,
            next_item=item.again(attempts, status, error),
            due_ms=int(due * 1000),
        )


class Unsendable(Exception):
    """The delivery cannot be made as configured (no secret, no sink); not retried."""


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before the next attempt: doubling from CALLBACK_BACKOFF up to CALLBACK_BACKOFF_MAX,
    with "equal jitter" (half fixed, half random) so receivers that failed together are not
    retried together, while each wait still grows."""
    ceiling: float = min(
        settings.CALLBACK_BACKOFF_MAX, settings.CALLBACK_BACKOFF * 2.0 ** (attempts - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after(headers: httpx.Headers, now: float) -> float:
    """`Retry-After` in seconds from now (delay-seconds or an HTTP-date, RFC 9110 10.2.3); 0 when
    absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return 0.0
    if value.isdigit():
        return float(value)
    try:
        when: float = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when - now)
