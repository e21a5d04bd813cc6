"""The request bodies every submit benchmark sends, so all apps see the same bytes."""

from __future__ import annotations

import json

# The submit benchmarks invoke `process-data` ({"user_id": int, "data": str}): a small, typical
# payload that every app validates against the same pydantic model.
FUNCTION = "process-data"
PAYLOAD = {
    "user_id": 123456,
    "data": "sensor 7f3a: temperature=21.5C humidity=40% pressure=1013hPa battery=87%",
}
SUBMIT_PATH = f"/v1/functions/{FUNCTION}/invocations"
BATCH_PATH = f"/v1/functions/{FUNCTION}/invocations/batch"
BATCH_SIZE = 100

# The worker benchmark runs `echo` on a payload of about the same size.
ECHO_PAYLOAD = {"n": 0, "data": "x" * 64}


def body() -> bytes:
    return json.dumps(PAYLOAD, separators=(",", ":")).encode()


def batch_body(size: int = BATCH_SIZE) -> bytes:
    return json.dumps({"items": [PAYLOAD] * size}, separators=(",", ":")).encode()


def ceiling_message() -> str:
    """The message Spillway enqueues for `body()`, built once with Spillway's own builder, so the
    ceilings push exactly as many bytes as Spillway does."""
    from functions import builtins  # noqa: F401  (registers the functions)
    from functions.protocol import MessageBuilder, new_id
    from functions.registry import registry

    spec = registry.get(FUNCTION)
    assert spec is not None
    payload_json = spec.input_model.model_validate_json(body()).model_dump_json()
    return MessageBuilder(spec, spec.queue).build(new_id(), payload_json)
