"""Invocation records: one Redis hash per invocation, written by the API and the worker.

The record is what `GET /v1/invocations/{id}` reads. It exists from the moment the API accepts
the invocation (so an id that was never submitted is a clean 404, unlike Celery's AsyncResult,
which reports PENDING for any id). It never expires while the invocation is unfinished; the
worker's finish script gives it `SPILLWAY_RESULT_TTL` seconds once it ends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where an invocation is: queued, running or retrying, then succeeded or failed; or
    cancelled before it started (DELETE /v1/invocations/{id})."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})

# Hash fields. Times are Unix seconds as strings (cheap to write from Lua and Python alike).
FUNCTION = "function"
STATUS = "status"
SUBMITTED_AT = "submitted_at"
STARTED_AT = "started_at"
FINISHED_AT = "finished_at"
ATTEMPTS = "attempts"
RESULT = "result"
ERROR = "error"
# Written by the worker's scripts (functions/worker/lua/): what happened besides plain attempts.
HISTORY = "history"  # JSON list of {event, at, worker, detail}: worker_lost, replayed, ...
DEAD_LETTER = "dead_letter"  # "<queue>/<id>" of the dead letter a final failure filed
EVENT = "event"  # JSON: the attributes of the CloudEvent it was submitted as (POST /v1/events)
# The X-Callback-Url (written at submit) and its delivery (written by `spillway sender`).
CALLBACK = "callback"
CALLBACK_STATE = "callback_state"  # pending (absent) | delivered | failed
CALLBACK_ATTEMPTS = "callback_attempts"
CALLBACK_STATUS = "callback_status"  # the receiver's last HTTP status
CALLBACK_ERROR = "callback_error"
CALLBACK_AT = "callback_at"  # when it was delivered


def iso_time(value: str | float | None) -> str | None:
    """A Unix time as written in Redis, as ISO 8601 in UTC ("...Z"); None for none."""
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(float(value), tz=UTC).isoformat().replace("+00:00", "Z")


def decode(invocation_id: str, raw: dict[bytes, bytes] | dict[str, str]) -> dict[str, Any]:
    """The public view of a record as read with HGETALL."""
    fields = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    result = fields.get(RESULT)
    return {
        "id": invocation_id,
        "function": fields.get(FUNCTION, ""),
        "status": fields.get(STATUS, Status.QUEUED.value),
        "result": json.loads(result) if result else None,
        "error": fields.get(ERROR) or None,
        "attempts": int(fields.get(ATTEMPTS, "0")),
        "submitted_at": iso_time(fields.get(SUBMITTED_AT)),
        "started_at": iso_time(fields.get(STARTED_AT)),
        "finished_at": iso_time(fields.get(FINISHED_AT)),
        "history": _history(fields.get(HISTORY)),
        "dead_letter": fields.get(DEAD_LETTER) or None,
        "event": _event(fields.get(EVENT)),
        **_callback(fields),
    }


def _callback(fields: dict[str, str]) -> dict[str, Any]:
    """The callback's delivery state, only for an invocation that asked for one (the secret
    that signs it is never in the record)."""
    url = fields.get(CALLBACK)
    if not url:
        return {}
    status = fields.get(CALLBACK_STATUS)
    return {
        "callback": {
            "url": url,
            "state": fields.get(CALLBACK_STATE) or "pending",
            "attempts": int(fields.get(CALLBACK_ATTEMPTS) or 0),
            "last_status": int(status) if status else None,
            "error": fields.get(CALLBACK_ERROR) or None,
            "delivered_at": iso_time(fields.get(CALLBACK_AT)),
        }
    }


def _event(raw: str | None) -> dict[str, Any] | None:
    """The CloudEvent attributes kept with an invocation submitted as an event, else None."""
    if not raw:
        return None
    try:
        attributes = json.loads(raw)
    except ValueError:
        return None
    return attributes if isinstance(attributes, dict) else None


def _history(raw: str | None) -> list[dict[str, Any]]:
    """Events besides plain attempts, oldest first: why an attempt was cut short or repeated.

    `detail` is what the event carries besides: a `held_back` event the task name, a `replayed`
    one the error the invocation had, its dead-letter reason and who replayed it.
    """
    if not raw:
        return []
    try:
        events = json.loads(raw)
    except ValueError:
        return []
    return [
        {
            "event": str(event.get("event", "")),
            "at": iso_time(str(event["at"])) if event.get("at") is not None else None,
            "worker": event.get("worker"),
            "detail": event.get("detail"),
        }
        for event in events
        if isinstance(event, dict)
    ]
