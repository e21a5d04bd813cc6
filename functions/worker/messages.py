"""Which messages a worker may hand to Celery, and what to do with the rest.

kombu and Celery drop, or die on, what they cannot read: a non-JSON list entry makes the worker
exit ("Unrecoverable error"), a missing `properties` is treated as a connection error, an unknown
task or a pickle content type is discarded (notes: kombu-redis-fetch.md, section 9). Every
message taken from a queue is checked here first; what fails is dead-lettered with the reason
and never reaches Celery.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

# What Celery's protocol 2 JSON messages look like on a kombu Redis queue
# (https://docs.celeryq.dev/en/stable/internals/protocol.html#version-2).
CONTENT_TYPE = "application/json"


class Invalid(Exception):
    """A message that must not run: `reason` is the dead-letter reason code."""

    def __init__(self, reason: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.error_type = error_type
        self.message = message


def check(
    raw: str, max_body_bytes: int, now: datetime | None = None
) -> tuple[dict[str, Any], datetime | None]:
    """The message as kombu expects it and its `eta` (None to run now), or Invalid with why not.

    `now` is for the `expires` check (an expired task is dead-lettered, reason expired, where
    Celery would revoke it without a trace).
    """
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise Invalid("malformed", "DecodeError", f"not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise Invalid("malformed", "InvalidMessage", "not a JSON object")
    headers, properties, body = (message.get(k) for k in ("headers", "properties", "body"))
    if not isinstance(headers, dict) or not isinstance(properties, dict):
        raise Invalid("malformed", "InvalidMessage", "no headers or properties object")
    if not isinstance(properties.get("delivery_info"), dict):
        raise Invalid("malformed", "InvalidMessage", "properties have no delivery_info")
    content_type = message.get("content-type")
    if content_type != CONTENT_TYPE:
        raise Invalid(
            "malformed", "ContentDisallowed", f"content type {content_type!r}, only JSON runs"
        )
    if properties.get("body_encoding") != "base64" or not isinstance(body, str):
        raise Invalid("malformed", "InvalidMessage", "body is not a base64 string")
    if len(body) > max_body_bytes * 4 // 3 + 4:
        raise Invalid("malformed", "MessageTooLarge", f"body over {max_body_bytes} bytes")
    try:
        decoded = json.loads(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise Invalid("malformed", "DecodeError", "body is not base64-encoded JSON") from None
    if not (
        isinstance(decoded, list)
        and len(decoded) == 3
        and isinstance(decoded[0], list)
        and isinstance(decoded[1], dict)
    ):
        raise Invalid("malformed", "InvalidMessage", "body is not [args, kwargs, embed]")
    args, kwargs = decoded[0], decoded[1]
    # A Spillway task takes one argument, the payload (functions/worker/tasks.py). Celery would
    # fail a call with other arguments before the task body could record anything, and the
    # unrecorded ack would put the message back for ever (settle.lua).
    if not (len(args) == 1 and not kwargs) and not (not args and list(kwargs) == ["payload"]):
        raise Invalid("malformed", "InvalidMessage", "the task takes one argument, the payload")
    eta = _when(headers, "eta")
    expires = _when(headers, "expires")
    if expires is not None and expires <= (now or datetime.now(UTC)):
        raise Invalid("expired", "Expired", f"expired at {expires.isoformat()}")
    return message, eta


def _when(headers: dict[str, Any], name: str) -> datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise Invalid("malformed", "InvalidMessage", f"{name} is not an ISO 8601 time")
    return when if when.tzinfo else when.replace(tzinfo=UTC)
