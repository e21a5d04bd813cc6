"""Celery task messages (protocol 2, JSON) built without Celery, as the Redis transport stores them.

Why not `app.send_task`: the API never imports Celery. Celery's `amqp.as_task_v2` plus kombu's
publish path cost time on every request and Celery's import on every cold start (the figures:
docs/benchmarks.md, "Behind choices in the code"), while the message is a small, documented
JSON envelope
(https://docs.celeryq.dev/en/stable/internals/protocol.html#version-2). What we build here is
the envelope kombu's virtual transport LPUSHes (`Channel.basic_publish` -> `_put`): the same keys
and values Celery produces, which `tests/test_protocol.py` checks against Celery itself and the
end-to-end tests check by running a real worker on it (retries, time limits, Flower headers).
"""

from __future__ import annotations

import base64
import json
import os
import socket

from functions.registry import FunctionSpec

# Celery's embed: no callbacks, errbacks, chain or chord for a plain invocation.
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'
_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"


class MessageBuilder:
    """Builds the LPUSH payload for one function; the constant parts are encoded once."""

    def __init__(self, spec: FunctionSpec, queue: str) -> None:
        timelimit = json.dumps([spec.time_limit, spec.soft_time_limit])
        # Headers in Celery's order; "id", "root_id" and "argsrepr" are filled per message.
        # argsrepr and kwargsrepr are what task events (task-received: `args`, `kwargs`) and
        # Flower show of the arguments (celery/app/amqp.py as_task_v2 computes them with
        # saferepr, up to 1 KiB of the payload): every event consumer would see the input.
        # They name the invocation instead (issue 12); the body still carries the input.
        self._after_body = (
            '", "content-encoding": "utf-8", "content-type": "application/json", '
            '"headers": {"lang": "py", "task": ' + json.dumps(spec.task_name) + ', "id": "'
        )
        self._after_id = (
            '", "shadow": null, "eta": null, "expires": null, "group": null, '
            '"group_index": null, "retries": 0, "timelimit": ' + timelimit + ', "root_id": "'
        )
        self._after_root = '", "parent_id": null, "argsrepr": '
        self._after_argsrepr = (
            ', "kwargsrepr": "{}", "origin": ' + json.dumps(_ORIGIN) + ', "ignore_result": true, '
            '"replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, '
            '"properties": {"correlation_id": "'
        )
        self._after_corr = (
            '", "reply_to": null, "delivery_mode": 2, "delivery_info": {"exchange": "", '
            '"routing_key": ' + json.dumps(queue) + '}, "priority": 0, '
            '"body_encoding": "base64", "delivery_tag": "'
        )

    def build(self, invocation_id: str, payload_json: str) -> str:
        """The message for `payload_json` (the validated input as compact JSON)."""
        body = "[[" + payload_json + "], {}, " + _EMBED + "]"
        encoded = base64.b64encode(body.encode()).decode("ascii")
        argsrepr = json.dumps(argsrepr_of(invocation_id))
        return "".join(
            (
                '{"body": "',
                encoded,
                self._after_body,
                invocation_id,
                self._after_id,
                invocation_id,
                self._after_root,
                argsrepr,
                self._after_argsrepr,
                invocation_id,
                self._after_corr,
                # kombu's delivery tag names the message in the `unacked` hash. Celery
                # republishes a retry with a fresh tag and a restore keeps the tag, so the
                # invocation id is unique among messages in flight and saves a second id.
                invocation_id,
                '"}}',
            )
        )


def argsrepr_of(invocation_id: str) -> str:
    """What events show as a task's arguments: the invocation, never its payload."""
    return f"[<input of {invocation_id}>]"


_VARIANT = "89ab"


def new_id() -> str:
    """A random (version 4) UUID as text, formatted directly: `str(uuid.uuid4())` costs twice
    as much, in building the UUID object, and this runs once per invocation."""
    h = os.urandom(16).hex()
    return "-".join(
        (h[:8], h[8:12], "4" + h[13:16], _VARIANT[int(h[16], 16) & 3] + h[17:20], h[20:32])
    )
