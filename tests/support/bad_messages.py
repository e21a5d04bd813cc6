"""Every kind of list entry a worker must not run, as a producer other than the API could push it.

Each kind is a queue entry (the raw string LPUSHed), the dead-letter reason it must be filed
under and a word of the error it must carry. The envelope they start from is the API's own
(functions/protocol.py), so each kind breaks exactly one thing. Celery's protocol 2:
https://docs.celeryq.dev/en/stable/internals/protocol.html#version-2
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.protocol import MessageBuilder, new_id
from functions.registry import FunctionSpec

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class BadMessage:
    kind: str
    raw: str
    reason: str  # the dead-letter reason code
    says: str  # a word of the error message
    invocation_id: str | None  # the id in its headers, when it has one


def _envelope(spec: FunctionSpec, queue: str) -> tuple[str, dict[str, Any]]:
    invocation_id = new_id()
    return invocation_id, json.loads(MessageBuilder(spec, queue).build(invocation_id, "{}"))


def _body(args: list[Any], kwargs: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps([args, kwargs, EMBED]).encode()).decode()


def catalog(spec: FunctionSpec, queue: str, max_body_bytes: int) -> list[BadMessage]:
    """One of each kind, for `spec` (a function the worker knows) on `queue`."""
    made: list[BadMessage] = [
        BadMessage("not JSON", "this is not json", "malformed", "JSON", None),
        BadMessage("not an object", "[1, 2, 3]", "malformed", "object", None),
    ]

    def broken(kind: str, change: Callable[[dict[str, Any]], None], reason: str, says: str) -> None:
        invocation_id, message = _envelope(spec, queue)
        change(message)
        has_id = isinstance(message.get("headers"), dict)
        made.append(
            BadMessage(kind, json.dumps(message), reason, says, invocation_id if has_id else None)
        )

    def setter(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
        def change(message: dict[str, Any]) -> None:
            target = message
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value

        return change

    broken("no headers", lambda m: m.pop("headers"), "malformed", "headers")
    broken("no properties", lambda m: m.pop("properties"), "malformed", "properties")
    broken("bad base64", setter(("body",), "!!not base64!!"), "malformed", "base64")
    broken(
        "unknown body encoding",
        setter(("properties", "body_encoding"), "gzip"),
        "malformed",
        "base64",
    )
    broken(
        "pickle content type",
        setter(("content-type",), "application/x-python-serialize"),
        "malformed",
        "content type",
    )
    broken(
        "body over the size limit",
        setter(("body",), _body([{"blob": "x" * max_body_bytes}], {})),
        "malformed",
        "over",
    )
    broken("junk eta", setter(("headers", "eta"), "soon-ish"), "malformed", "eta")
    broken("junk expires", setter(("headers", "expires"), 12345), "malformed", "expires")
    broken("wrong arguments", setter(("body",), _body([], {})), "malformed", "argument")
    broken(
        "expired",
        setter(("headers", "expires"), "2001-01-01T00:00:00+00:00"),
        "expired",
        "expired",
    )
    return made
