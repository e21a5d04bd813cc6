"""Dead letters end to end: a real worker files every kind of bad message and keeps consuming,
and failed invocations are fixed and replayed (one, with a payload, and in bulk) through the API
and `spillway dlq`, then succeed on the same worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from functions.protocol import MessageBuilder, new_id
from functions.registry import DEFAULT_QUEUE
from tests.support.bad_messages import catalog
from tests.support.processes import ROOT, TEST_FUNCTIONS, Proc, base_env, start_api, start_worker
from tests.worker.conftest import echo_spec

pytestmark = pytest.mark.e2e

MODULES = TEST_FUNCTIONS + ",tests.support.gated_functions"
MAX_BODY = 2048  # a small limit, so a body over it is cheap to build


@pytest.fixture(scope="module")
def cell(shared_redis: str) -> Iterator[tuple[Proc, Proc]]:
    settings = {
        "SPILLWAY_FUNCTION_MODULES": MODULES,
        "SPILLWAY_MAX_BODY_BYTES": str(MAX_BODY),
        "SPILLWAY_UNKNOWN_TASK_HOLD": "1",
    }
    api = start_api(shared_redis, **settings)
    worker = start_worker(shared_redis, **settings)
    yield api, worker
    worker.stop()
    api.stop()


def _dead_letters(api: Proc, **filters: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api.url}/v1/dead-letters", params={"limit": 200, **filters}, timeout=5)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _wait_for(api: Proc, invocation_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = httpx.get(
            f"{api.url}/v1/invocations/{invocation_id}", timeout=5
        ).json()
        if record["status"] == status:
            return record
        assert time.monotonic() < deadline, f"{invocation_id} stuck: {record}"
        time.sleep(0.05)


def _submit(api: Proc, function: str, payload: dict[str, Any]) -> str:
    response = httpx.post(
        f"{api.url}/v1/functions/{function}/invocations", json=payload, timeout=10
    )
    assert response.status_code == 202, response.text
    invocation_id: str = response.json()["id"]
    return invocation_id


def test_every_bad_message_is_dead_lettered_and_the_worker_goes_on(
    cell: tuple[Proc, Proc], shared_client: redis.Redis
) -> None:
    api, worker = cell
    bad = catalog(echo_spec, DEFAULT_QUEUE, MAX_BODY)
    # A task no worker of the pool knows: held back for SPILLWAY_UNKNOWN_TASK_HOLD, then filed.
    unknown_id = new_id()
    unknown = json.loads(MessageBuilder(echo_spec, DEFAULT_QUEUE).build(unknown_id, "{}"))
    unknown["headers"]["task"] = "spillway.not-deployed-here"
    for message in bad:
        shared_client.lpush(DEFAULT_QUEUE, message.raw)
    shared_client.lpush(DEFAULT_QUEUE, json.dumps(unknown))

    # Valid work behind them still runs.
    done = httpx.post(
        f"{api.url}/v1/functions/echo/invocations?wait=20", json={"after": "junk"}, timeout=30
    )
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text

    deadline = time.monotonic() + 30
    while len(items := _dead_letters(api)) < len(bad) + 1:
        assert time.monotonic() < deadline, f"filed {len(items)} of {len(bad) + 1}"
        time.sleep(0.2)
    by_message = {}
    for item in items:
        whole = httpx.get(f"{api.url}/v1/dead-letters/{item['id']}", timeout=5).json()
        by_message[whole["message"]] = whole
    for message in bad:
        filed = by_message[message.raw]
        assert filed["reason"] == message.reason, (message.kind, filed)
        assert message.says in filed["error"]["message"], (message.kind, filed["error"])
        assert filed["invocation_id"] == message.invocation_id, message.kind
    (held,) = [i for i in items if i["invocation_id"] == unknown_id]
    assert held["reason"] == "unknown_task" and held["function"] == "spillway.not-deployed-here"

    # Nothing left anywhere, and the worker is the one that started: it never died.
    assert shared_client.llen(DEFAULT_QUEUE) == 0 and shared_client.hlen("unacked") == 0
    assert worker.alive() and "Unrecoverable error" not in worker.log()
    again = httpx.post(
        f"{api.url}/v1/functions/echo/invocations?wait=20", json={"still": "here"}, timeout=30
    )
    assert again.json()["status"] == "succeeded"
    # Clean up for the replay tests.
    purged = httpx.post(f"{api.url}/v1/dead-letters/purge", json={"all": True}, timeout=10)
    assert purged.json()["deleted"] == len(bad) + 1


def test_fix_and_replay_one_invocation_through_the_api(
    cell: tuple[Proc, Proc], shared_client: redis.Redis
) -> None:
    api, _ = cell
    invocation_id = _submit(api, "gated", {"key": "one"})
    failed = _wait_for(api, invocation_id, "failed")
    assert failed["attempts"] == 2 and failed["dead_letter"] == f"{DEFAULT_QUEUE}/{invocation_id}"
    entry = httpx.get(f"{api.url}/v1/dead-letters/{invocation_id}", timeout=5).json()
    assert entry["reason"] == "retries_exhausted" and entry["error"]["type"] == "Closed"

    shared_client.set("gate:one", 1)  # the fix
    replay = httpx.post(f"{api.url}/v1/dead-letters/{invocation_id}/replay", timeout=5)
    assert replay.status_code == 202 and replay.json()["id"] == invocation_id
    done = _wait_for(api, invocation_id, "succeeded")
    assert done["result"] == {"key": "one"} and done["attempts"] == 3
    assert [e["event"] for e in done["history"]] == ["replayed"]
    assert done["history"][0]["detail"]["error"] == "Closed: gate one is closed"
    assert done["dead_letter"] is None
    assert httpx.get(f"{api.url}/v1/dead-letters/{invocation_id}", timeout=5).status_code == 404


@pytest.fixture
def dlq(shared_redis: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`spillway dlq ...` as an operator runs it: a process of its own on the same Redis."""

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "functions.cli", "dlq", *argv],
            cwd=ROOT,
            env=base_env(shared_redis, SPILLWAY_FUNCTION_MODULES=MODULES),
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_replay_with_a_corrected_payload_through_the_cli(
    cell: tuple[Proc, Proc], dlq: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    api, _ = cell
    invocation_id = _submit(api, "gated", {"key": "never-opened"})
    _wait_for(api, invocation_id, "failed")
    wrong = dlq("replay", invocation_id, "--payload", '{"key": 7}')
    assert wrong.returncode == 2 and wrong.stderr.startswith("spillway: error: invalid payload")
    fixed = dlq("replay", invocation_id, "--payload", '{"key": "never-opened", "open": true}')
    assert fixed.returncode == 0, fixed.stderr
    done = _wait_for(api, invocation_id, "succeeded")
    assert done["history"][-1]["detail"]["payload"] == "corrected"
    assert done["history"][-1]["detail"]["by"] == "cli"


def test_bulk_replay_through_the_api_and_the_cli(
    cell: tuple[Proc, Proc],
    shared_client: redis.Redis,
    dlq: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    api, _ = cell
    first = [_submit(api, "gated", {"key": "bulk"}) for _ in range(4)]
    for invocation_id in first:
        _wait_for(api, invocation_id, "failed")
    assert len(_dead_letters(api, function="gated")) == 4
    shared_client.set("gate:bulk", 1)
    response = httpx.post(
        f"{api.url}/v1/dead-letters/replay", json={"function": "gated"}, timeout=10
    )
    assert response.status_code == 202
    assert sorted(response.json()["invocation_ids"]) == sorted(first)
    for invocation_id in first:
        assert _wait_for(api, invocation_id, "succeeded")["attempts"] == 3

    second = [_submit(api, "gated", {"key": "bulk-cli"}) for _ in range(3)]
    for invocation_id in second:
        _wait_for(api, invocation_id, "failed")
    shared_client.set("gate:bulk-cli", 1)
    replayed = dlq("replay", "--reason", "retries_exhausted", "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert sorted(json.loads(replayed.stdout)["invocation_ids"]) == sorted(second)
    for invocation_id in second:
        _wait_for(api, invocation_id, "succeeded")
    assert _dead_letters(api, function="gated") == []
