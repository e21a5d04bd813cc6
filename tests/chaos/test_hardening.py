"""Messages the worker must not run (pickle) and functions it must stop (time limits)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu.serialization import loads
from pydantic import BaseModel

from functions.protocol import MessageBuilder
from functions.registry import DEFAULT_QUEUE, FunctionSpec
from tests.support.chaos import Cell
from tests.support.ledger import run_seconds

pytestmark = pytest.mark.chaos

PICKLE = "application/x-python-serialize"


class _MkdirWhenUnpickled:
    """Unpickling this calls os.mkdir(path): the code execution pickle hands to a Redis writer."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.path,))


def _pickle_body(key: str, marker: Path) -> bytes:
    payload = {"key": key, "seconds": 0, "extra": _MkdirWhenUnpickled(marker)}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return pickle.dumps(((payload,), {}, embed), protocol=4)


@pytest.mark.timeout(60)
def test_worker_refuses_pickle_message(steady: Cell, tmp_path: Path) -> None:
    cell = steady
    # What the API builds for `slow` (tests/support/functions.py), without importing that module:
    # importing registers its functions in the registry the in-process API tests share.
    spec = FunctionSpec(
        "slow", lambda p: p, BaseModel, BaseModel, queue=DEFAULT_QUEUE, time_limit=8
    )
    key = f"pickle:{uuid.uuid4().hex}"

    # Positive control: a consumer that accepts pickle runs the payload while decoding it.
    control = tmp_path / "control"
    loads(_pickle_body(key, control), PICKLE, "binary", accept={PICKLE})
    assert control.is_dir()

    # The same message as the API would build for `slow`, with a pickle body instead of JSON.
    marker = tmp_path / "marker"
    invocation_id = str(uuid.uuid4())
    message = json.loads(MessageBuilder(spec, spec.queue).build(invocation_id, json.dumps({})))
    message["body"] = base64.b64encode(_pickle_body(key, marker)).decode()
    message["content-type"] = PICKLE
    message["content-encoding"] = "binary"
    cell.client.lpush(spec.queue, json.dumps(message))

    # Valid work queued behind it still runs: the worker refused the message and moved on.
    ledger = cell.ledger()
    ledger.submit(cell.http, "slow", seconds=0)
    verdict = ledger.drain(cell.http, timeout=15)
    assert verdict.valid and len(verdict.succeeded) == 1, verdict.summary()
    cell.wait_idle()  # and it was disposed of, not left to be redelivered

    assert not marker.exists(), "the worker unpickled the message"
    assert cell.client.get(key) is None, "the worker ran the pickled task"
    # It never reached Celery: dead-lettered as it came, with the reason.
    dead = json.loads(cell.client.hget("spillway:dlq:spillway", invocation_id) or "{}")
    assert dead["reason"] == "malformed" and dead["error"]["type"] == "ContentDisallowed", dead
    assert json.loads(dead["message"])["content-type"] == PICKLE
    assert "unpickl" not in cell.workers[0].log()


@pytest.mark.timeout(60)
def test_time_limits_fail_the_invocation_and_the_worker_keeps_working(steady: Cell) -> None:
    cell = steady
    ledger = cell.ledger()
    # `overtime` is stopped by the soft limit (an exception inside the function); `stubborn`
    # swallows that, so only the hard limit (the pool kills the child) can stop it.
    overtime = ledger.submit(cell.http, "overtime", seconds=5)
    stubborn = ledger.submit(cell.http, "stubborn", seconds=5)
    verdict = ledger.drain(cell.http, timeout=15)
    print(f"\ntime limits: {verdict.summary()}")
    assert verdict.valid and len(verdict.failed) == 2, verdict.summary()
    for entry in (overtime, stubborn):
        record = ledger.records[str(entry.id)]
        assert record["status"] == "failed", record
        assert (record["error"] or "").startswith("TimeLimitExceeded"), record
        assert run_seconds(record) < 3.5, record  # time_limit 2, not the 5 s the body asked for
        assert ledger.calls(entry) == 1 and record["attempts"] == 1, record  # not redelivered
    assert "hard time limit" in ledger.records[str(stubborn.id)]["error"]

    after = cell.ledger()
    after.submit(cell.http, "slow", seconds=0)
    after.submit(cell.http, "slow", seconds=0)
    verdict = after.drain(cell.http, timeout=10)
    assert verdict.valid and len(verdict.succeeded) == 2, verdict.summary()
    cell.wait_idle()
