"""API keys through real uvicorn, a real worker and `spillway keys`: a revocation reaches every
replica within a second, keys never leak, the worker gives a tenant's share back, and a key
file mounted from a Secret is loaded at start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from functions.apikeys import specs
from functions.apikeys.model import ApiKey, digest, new_secret, token
from tests.support.apikeys import bearer, spillway_keys
from tests.support.processes import ROOT, Proc, base_env, wait_until

pytestmark = pytest.mark.e2e
AUTH = {"SPILLWAY_AUTH": "required"}


def keys(redis_url: str, *args: str) -> str:
    done = spillway_keys(redis_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_revocation_reaches_every_replica_within_a_second(
    redis_url: str, redis_client: redis.Redis, api_factory: Callable[..., Proc]
) -> None:
    created = json.loads(keys(redis_url, "create", "--tenant", "acme", "--json"))
    replicas = [api_factory(redis_url, **AUTH), api_factory(redis_url, **AUTH)]
    for api in replicas:  # each now holds the key (SPILLWAY_AUTH_CACHE, 0.5 s)
        answer = httpx.get(f"{api.url}/v1/functions", headers=bearer(created["key"]))
        assert answer.status_code == 200, answer.text
    keys(redis_url, "revoke", created["id"])
    revoked_at = time.monotonic()
    time.sleep(max(0.0, revoked_at + 1.0 - time.monotonic()))
    for api in replicas:  # no restart, no signal: one second later both refuse it
        answer = httpx.get(f"{api.url}/v1/functions", headers=bearer(created["key"]))
        assert answer.status_code == 401, answer.text
        assert "revoked" in answer.json()["detail"]
    # Rotation the same way: the old secret stops, the new one works, on both.
    other = json.loads(keys(redis_url, "create", "--tenant", "acme", "--json"))
    for api in replicas:
        assert httpx.get(f"{api.url}/v1/functions", headers=bearer(other["key"])).is_success
    rotated = json.loads(keys(redis_url, "rotate", other["id"], "--json"))
    time.sleep(1.0)
    for api in replicas:
        old = httpx.get(f"{api.url}/v1/functions", headers=bearer(other["key"]))
        new = httpx.get(f"{api.url}/v1/functions", headers=bearer(rotated["key"]))
        assert (old.status_code, new.status_code) == (401, 200)


def _every_value(client: redis.Redis) -> bytes:
    """Every key and value in the database, as one blob to search (not DUMP: it may compress)."""
    parts: list[Any] = []
    for name in client.scan_iter("*"):
        kind = client.type(name)
        parts.append(name)
        if kind == b"string":
            parts.append(client.get(name))
        elif kind == b"hash":
            parts += [item for pair in client.hgetall(name).items() for item in pair]
        elif kind == b"list":
            parts += client.lrange(name, 0, -1)
        elif kind == b"set":
            parts += client.smembers(name)
        elif kind == b"zset":
            parts += client.zrange(name, 0, -1)
    return b"\n".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)


def test_keys_stay_out_of_logs_metrics_problems_records_and_events(
    redis_url: str,
    redis_client: redis.Redis,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    created = json.loads(keys(redis_url, "create", "--tenant", "acme", "--json"))
    key, secret = created["key"], created["key"].split("_", 2)[2]
    revoked = json.loads(keys(redis_url, "create", "--tenant", "acme", "--json"))
    keys(redis_url, "revoke", revoked["id"])
    events = redis_client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    events.psubscribe("*celeryev*")
    api = api_factory(redis_url, SPILLWAY_LOG_LEVEL="DEBUG", **AUTH)
    worker = worker_factory(redis_url, SPILLWAY_LOG_LEVEL="DEBUG")
    bodies: list[str] = []
    ok = httpx.post(
        f"{api.url}/v1/functions/echo/invocations?wait=10", json={"a": 1}, headers=bearer(key)
    )
    assert ok.status_code == 200, ok.text
    failed = httpx.post(
        f"{api.url}/v1/functions/fail/invocations?wait=10",
        json={"message": "boom"},
        headers=bearer(key),
    )
    assert failed.json()["status"] == "failed"
    wrong_secret = f"spw_{created['id']}_{new_secret()}"
    for header in (key, revoked["key"], wrong_secret, key + "x", key[:-1]):
        for path in ("/v1/functions/echo/invocations", "/v1/functions/nope/invocations"):
            answer = httpx.post(f"{api.url}{path}", json={"a": 1}, headers=bearer(header))
            bodies.append(answer.text)
    bodies.append(httpx.get(f"{api.url}/metrics").text)
    seen = b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        message = events.get_message(timeout=0.2)
        if message is not None:
            seen += message["data"]
    events.close()
    assert seen, "no task events were captured"
    for text in [api.log(), worker.log(), *bodies, seen.decode(errors="replace")]:
        assert secret not in text and revoked["key"] not in text
    stored = _every_value(redis_client)
    assert secret.encode() not in stored and revoked["key"].split("_", 2)[2].encode() not in stored


def test_the_worker_gives_a_tenants_share_back_when_invocations_finish(
    redis_url: str,
    redis_client: redis.Redis,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    created = json.loads(
        keys(redis_url, "create", "--tenant", "acme", "--max-backlog", "2", "--json")
    )
    api = api_factory(redis_url, **AUTH)
    headers = bearer(created["key"])
    url = f"{api.url}/v1/functions"
    first = httpx.post(f"{url}/echo/invocations", json={}, headers=headers)
    second = httpx.post(f"{url}/fail/invocations", json={"message": "x"}, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    full = httpx.post(f"{url}/echo/invocations", json={}, headers=headers)
    assert full.json()["type"] == "urn:spillway:problem:tenant-backlog-full"
    worker_factory(redis_url)

    def settled() -> bool:
        return redis_client.get("spillway:tenant:acme:backlog") == b"0"

    wait_until(settled, 30, "the worker to give both places back")  # a success and a failure
    again = httpx.post(f"{url}/echo/invocations?wait=10", json={}, headers=headers)
    assert again.status_code == 200, again.text
    assert redis_client.get("spillway:tenant:acme:backlog") == b"0"
    # The failure's dead letter names its tenant (the record's, read by the worker's script).
    failed_id = second.json()["id"]
    entry = redis_client.hget("spillway:dlq:spillway", failed_id)
    assert entry is not None and json.loads(entry)["tenant"] == "acme"


def test_a_key_file_from_a_secret_is_loaded_at_start(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, api_factory: Callable[..., Proc]
) -> None:
    secret = new_secret()
    key = ApiKey(id="00000000000000aa", tenant="gitops", sha256=digest(secret), scopes=("invoke",))
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [specs.spec_of(key)]}))
    api = api_factory(redis_url, SPILLWAY_KEYS_FILE=str(path), **AUTH)
    wait_until(
        lambda: redis_client.exists("spillway:auth:key:00000000000000aa") == 1, 10, "the file"
    )
    answer = httpx.post(
        f"{api.url}/v1/functions/echo/invocations", json={}, headers=bearer(token(key.id, secret))
    )
    assert answer.status_code == 202, answer.text
    path.write_text("{broken")
    done = subprocess.run(
        [sys.executable, "-m", "functions.cli", "api", "--port", "1"],
        env=base_env(redis_url, SPILLWAY_KEYS_FILE=str(path), **AUTH),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith("spillway: error: SPILLWAY_KEYS_FILE")
