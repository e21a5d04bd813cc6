"""Our message builder against Celery's own: same envelope, same headers, same body."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis
from celery import Celery

from functions.builtins import ProcessDataInput
from functions.protocol import MessageBuilder, new_id
from functions.registry import registry

VARIABLE = {"origin", "delivery_tag", "reply_to"}


def _normalise(message: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(json.dumps(message))
    message["body"] = json.loads(base64.b64decode(message["body"]))
    for part in ("headers", "properties"):
        for key in VARIABLE & set(message[part]):
            message[part][key] = "<varies>"
    # Celery computes argsrepr with repr() of the arguments; ours names the invocation only.
    message["headers"]["argsrepr"] = "<repr>"
    return message


def test_builder_matches_what_celery_publishes(redis_url: str, redis_client: redis.Redis) -> None:
    spec = registry.get("process-data")
    assert spec is not None
    payload = ProcessDataInput(user_id=3, data="hello")

    celery = Celery("reference", broker=redis_url)
    celery.conf.update(task_serializer="json")
    # Registered as the worker registers it (functions/worker/tasks.py).
    task = celery.task(  # type: ignore[call-overload]  # as functions/worker/tasks.py
        spec.fn,
        name=spec.task_name,
        ignore_result=True,
        time_limit=spec.time_limit,
        soft_time_limit=spec.soft_time_limit,
        shared=False,  # or every Celery app created later in this process would get it too
    )
    task.apply_async(
        args=[payload.model_dump(mode="json")],
        task_id="00000000-0000-0000-0000-000000000001",
        queue=spec.queue,
    )
    theirs = json.loads(redis_client.rpop(spec.queue))  # type: ignore[arg-type]
    celery.close()

    ours_raw = MessageBuilder(spec, spec.queue).build(
        "00000000-0000-0000-0000-000000000001", payload.model_dump_json()
    )
    ours = json.loads(ours_raw)
    assert _normalise(ours) == _normalise(theirs)
    assert list(ours["headers"]) == list(theirs["headers"])


def test_argsrepr_names_the_invocation_not_the_payload() -> None:
    """Task events (task-received `args`/`kwargs` are these headers: celery 5.7
    celery/worker/strategy.py, default.task_message_handler) go to every event consumer,
    Flower included: issue 12 keeps the input out of them. The body still carries it, whole."""
    spec = registry.get("echo")
    assert spec is not None
    payload = json.dumps({"d": "secret-" + "x" * 5000})
    message = json.loads(MessageBuilder(spec, "q").build("id-1", payload))
    assert message["headers"]["argsrepr"] == "[<input of id-1>]"
    assert message["headers"]["kwargsrepr"] == "{}"
    assert "secret" not in json.dumps(message["headers"])
    body = json.loads(base64.b64decode(message["body"]))
    assert body[0] == [json.loads(payload)]


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # All four variant digits and every hex digit elsewhere turn up: the bits are random.
    assert {text[19] for text in ids} == set("89ab")
    assert set("".join(ids).replace("-", "")) == set("0123456789abcdef")
