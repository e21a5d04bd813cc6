"""Each component works under its own Redis ACL user (functions/acl/) and is refused outside it.

A real redis-server loads the generated `user` lines (as platform/redis.yaml's redis.conf
includes them); a real API under uvicorn and a real Celery worker run with their own users'
REDIS_URL; KEDA's scaler is replayed command for command. Redis's ACL LOG records every refusal,
so "works" also means "was refused nothing".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from functions import acl, keys
from tests.support.acl import AclRedis
from tests.support.processes import Proc, wait_until
from tests.support.receiver import receiving

# KEDA's redis scaler script, as sent on every poll by `client.Eval(ctx, script,
# []string{meta.ListName})`: kedacore/keda pkg/scalers/redis_scaler.go, NewRedisScaler
# (`luaScript`) and createRedisScalerWithClient, v2.12.0 through v2.18.3 (table lookup) ...
KEDA_SCRIPT = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
local cmd = {
    zset = 'zcard',
    set = 'scard',
    list = 'llen',
    hash = 'hlen',
    none = 'llen'
}

return redis.call(cmd[listType], listName)
"""
# ... and from v2.20.0 on (the same commands, an if/elseif chain).
KEDA_SCRIPT_2_20 = """
local listName = KEYS[1]
local listType = redis.call('type', listName).ok
if listType == 'zset' then
    return redis.call('zcard', listName)
elseif listType == 'set' then
    return redis.call('scard', listName)
elseif listType == 'hash' then
    return redis.call('hlen', listName)
elseif listType == 'list' or listType == 'none' then
    return redis.call('llen', listName)
else
    return redis.error_reply('ERR unsupported key type: ' .. listType)
end
"""


def _submit(api: Proc, function: str, payload: dict[str, Any], wait: int = 20) -> dict[str, Any]:
    response = httpx.post(
        f"{api.url}/v1/functions/{function}/invocations?wait={wait}",
        json=payload,
        timeout=wait + 10,
    )
    assert response.status_code in (200, 202), response.text
    body: dict[str, Any] = response.json()
    return body


def _status(api: Proc, invocation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{api.url}/v1/invocations/{invocation_id}").json()
    return body


@pytest.fixture
def system(
    acl_redis: AclRedis,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> tuple[AclRedis, Proc, Proc]:
    api = api_factory(acl_redis.url("api"))
    worker = worker_factory(acl_redis.url("worker"))
    wait_until(lambda: httpx.get(f"{api.url}/readyz").status_code == 200, 30, "API ready", api)
    return acl_redis, api, worker


def _round_trip(api: Proc) -> None:
    """Success, a retry, a final failure and its dead letter, a replay, a delete and a purge,
    a batch with an Idempotency-Key, readiness, metrics."""
    done = _submit(api, "process-data", {"user_id": 7, "data": "hello"})
    assert done["status"] == "succeeded", done
    retried = _submit(api, "fail-transiently", {"failures": 1})
    assert retried["status"] == "succeeded" and retried["attempts"] == 2, retried
    failed = _submit(api, "fail", {"message": "boom"})
    assert failed["status"] == "failed", failed
    listed = httpx.get(f"{api.url}/v1/dead-letters").json()
    assert [item["invocation_id"] for item in listed["items"]] == [failed["id"]]
    replay = httpx.post(f"{api.url}/v1/dead-letters/{failed['id']}/replay")
    assert replay.status_code == 202, replay.text
    wait_until(lambda: _status(api, failed["id"])["status"] == "failed", 20, "replayed run", api)
    deleted = httpx.delete(f"{api.url}/v1/dead-letters/{failed['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    purged = httpx.post(f"{api.url}/v1/dead-letters/purge", json={"reason": "malformed"})
    assert purged.status_code == 200, purged.text
    batch = httpx.post(
        f"{api.url}/v1/functions/echo/invocations/batch",
        json={"items": [{"n": 1}, {"n": 2}]},
        headers={"Idempotency-Key": "acl-batch"},
    )
    assert batch.status_code == 202, batch.text
    ids: list[str] = batch.json()["ids"]
    wait_until(lambda: all(_status(api, i)["status"] == "succeeded" for i in ids), 20, "batch", api)
    _events_round_trip(api)
    assert httpx.get(f"{api.url}/readyz").json()["status"] == "ok"
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'spillway_dead_letters{function="fail"' in metrics


def _events_round_trip(api: Proc) -> None:
    """Issue 14's paths: a CloudEvent (its idempotency key, its attributes in the record), a
    queued invocation's position, a cancel the worker skips, Knative's dead-letter sink."""
    ce = {"ce-specversion": "1.0", "ce-type": "dev.spillway.echo", "ce-source": "/acl"}
    event = httpx.post(
        f"{api.url}/v1/events",
        headers={**ce, "ce-id": "acl-1", "content-type": "application/json"},
        content=b'{"n": 3}',
    )
    assert event.status_code == 202, event.text
    event_id = event.json()["id"]
    wait_until(lambda: _status(api, event_id)["status"] == "succeeded", 20, "the event", api)
    ids = [
        httpx.post(f"{api.url}/v1/functions/sleep/invocations", json={"seconds": 1.5}).json()["id"]
        for _ in range(3)
    ]
    queued = _status(api, ids[-1])
    assert queued["status"] == "queued" and queued["queue"]["position"] >= 1, queued
    cancelled = httpx.delete(f"{api.url}/v1/invocations/{ids[-1]}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    wait_until(lambda: _status(api, ids[1])["status"] == "succeeded", 20, "the sleeps", api)
    sink = httpx.post(
        f"{api.url}/v1/events/dead-letters",
        headers={**ce, "ce-id": "acl-2", "ce-knativeerrorcode": "422"},
        content=b"{}",
    )
    assert sink.status_code == 202, sink.text


def test_api_and_worker_run_everything_under_their_own_users(
    system: tuple[AclRedis, Proc, Proc],
) -> None:
    """A submit -> run -> result round trip (and retries, dead letters, replay, readiness,
    metrics) with the API logged in as `api` and the worker as `worker`: every invocation
    finishes, and Redis refused neither anything (ACL LOG stays empty)."""
    server, api, worker = system
    _round_trip(api)
    assert server.refusals() == []
    whoami = {
        client.get("name"): client.get("user")
        for client in server.admin.client_list()
        if client.get("user") != "default"
    }
    assert set(whoami.values()) <= {"api", "worker"}, whoami
    assert worker.alive() and api.alive()


def test_callbacks_and_their_dead_letters_run_under_the_sender_user(
    acl_redis: AclRedis,
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
    sender_factory: Callable[..., Proc],
) -> None:
    """The worker's final script queues a callback in the outbox (functions/worker/lua/_lib.lua,
    notify), the sender under its own user takes, signs and settles it, and a refused target
    ends as a `callback_failed` dead letter: nobody is refused anything on the way."""
    server = acl_redis
    local = {"SPILLWAY_CALLBACK_ALLOW_NETWORKS": "127.0.0.0/8"}
    api = api_factory(server.url("api"), **local)
    worker_factory(server.url("worker"))
    sender_factory(server.url("sender"), SPILLWAY_CALLBACK_SECRET="whsec_" + "A" * 44, **local)
    with receiving() as receiver:
        ids = {}
        for path, status in (("/done", 200), ("/gone", 410)):
            sent = httpx.post(
                f"{api.url}/v1/functions/echo/invocations",
                json={"path": path},
                headers={"X-Callback-Url": receiver.answer(path, status)},
            )
            assert sent.status_code == 202, sent.text
            ids[path] = sent.json()["id"]

        def callback(path: str) -> str:
            return str((_status(api, ids[path]).get("callback") or {}).get("state"))

        wait_until(lambda: callback("/done") == "delivered", 30, "the callback", api)
        # A 4xx other than 429 is not retried: the delivery fails and is dead-lettered.
        wait_until(lambda: callback("/gone") == "failed", 30, "the refused callback", api)
        assert len(receiver.at("/done")) == 1 and len(receiver.at("/gone")) == 1
    letters = httpx.get(f"{api.url}/v1/dead-letters", params={"reason": "callback_failed"}).json()
    assert [item["invocation_id"] for item in letters["items"]] == [ids["/gone"]], letters
    assert server.refusals() == []


def test_a_prefixed_named_pool_runs_under_its_users(
    acl_redis_factory: Callable[..., AclRedis],
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    """With SPILLWAY_KEY_PREFIX (glob characters included, escaped in the rules) and a named
    pool (its own in-flight hash, leases, scheduled set), everything still runs under the
    generated users, and nothing lands outside the prefix."""
    prefix = "t[1]*:"
    server = acl_redis_factory(prefix=prefix, pools=("p1",))
    settings = {"SPILLWAY_KEY_PREFIX": prefix}
    api = api_factory(server.url("api"), **settings)
    worker_factory(server.url("worker"), SPILLWAY_POOL="p1", **settings)
    _round_trip(api)
    assert server.refusals() == []
    found = [key.decode() for key in server.admin.scan_iter(count=1000)]
    assert found and all(key.startswith(prefix) for key in found), found
    assert [key for key in found if not acl.owners(server.layout, key)] == []


def test_every_key_a_round_trip_leaves_belongs_to_a_component_user(
    system: tuple[AclRedis, Proc, Proc],
) -> None:
    """Every key in Redis after a full round trip matches some component user's patterns: a key
    family added later without an ACL rule (by any branch) fails here, before a cluster
    refuses it. Checked with Redis's own matcher where it has one (ACL DRYRUN, 7.0+)."""
    server, api, _ = system
    _round_trip(api)
    found = [key.decode() for key in server.admin.scan_iter(count=1000)]
    assert any(k.startswith("spillway:inv:") for k in found), found
    orphans = [key for key in found if not acl.owners(server.layout, key)]
    assert orphans == [], f"keys no component user may touch: {orphans}"
    version = server.admin.info("server")["redis_version"]
    if int(str(version).split(".")[0]) >= 7:
        for key in found:
            owners = acl.owners(server.layout, key)
            reply = _run(server.admin, ("ACL", "DRYRUN", owners[0], "LLEN", key))()
            assert reply in (b"OK", "OK"), (key, owners, reply)


def _run(client: redis.Redis, command: tuple[str, ...]) -> Callable[[], Any]:
    return lambda: client.execute_command(*command)  # type: ignore[no-untyped-call]


def _refused(call: Callable[[], Any]) -> str:
    """The refusal's message; redis-py raises NoPermissionError for a NOPERM reply."""
    with pytest.raises(redis.ResponseError) as caught:
        call()
    prefix = "NOPERM " if isinstance(caught.value, redis.exceptions.NoPermissionError) else ""
    return prefix + str(caught.value)


def _seed_auth(server: AclRedis) -> str:
    key = keys.auth_pattern("").replace("*", "key:k1")
    server.admin.hset(key, mapping={"tenant": "t", "hash": "secret-hash"})
    return key


def test_worker_user_cannot_read_api_keys_or_run_admin_commands(acl_redis: AclRedis) -> None:
    """User code runs in the worker's process: its Redis user must not read API keys
    (`spillway:auth:*`, issue 12), nor flush, reconfigure or enumerate Redis."""
    auth_key = _seed_auth(acl_redis)
    worker = acl_redis.client("worker")
    assert worker.ping()
    assert "NOPERM" in _refused(lambda: worker.hgetall(auth_key))
    assert "NOPERM" in _refused(lambda: worker.type(auth_key))
    assert "NOPERM" in _refused(
        lambda: worker.eval("return redis.call('HGETALL', KEYS[1])", 1, auth_key)
    )
    for command in (("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "*"), ("ACL", "LIST"),
                    ("KEYS", "*"), ("SCAN", "0"), ("SHUTDOWN",),
                    ("MONITOR",), ("CLIENT", "KILL", "TYPE", "normal"), ("SCRIPT", "FLUSH"),
                    ("EVAL", "return 1", "0")):  # fmt: skip
        assert "NOPERM" in _refused(_run(worker, command)), command
    # Remote control is off, so the worker user has no pidbox channel to listen or publish on.
    assert worker.publish("/0.celeryev/worker.heartbeat", "{}") == 0
    assert "NOPERM" in _refused(lambda: worker.publish("/0.celery.pidbox", "{}"))
    assert acl_redis.admin.hgetall(auth_key)[b"hash"] == b"secret-hash"


def test_api_user_cannot_touch_celery_internals_or_admin(acl_redis: AclRedis) -> None:
    """The API enqueues and reads records, API keys and dead letters; it has no business with
    kombu's bindings, the worker's leases bookkeeping by pattern, pub/sub or admin commands."""
    api = acl_redis.client("api")
    assert api.hset(_seed_auth(acl_redis), "last_used", "1") == 1  # the API owns API keys
    assert "NOPERM" in _refused(lambda: api.smembers(keys.binding_key("", "spillway")))
    assert "NOPERM" in _refused(lambda: api.smembers(keys.held_key("", "w1")))
    assert "NOPERM" in _refused(lambda: api.publish("/0.celery.pidbox", "{}"))
    assert "NOPERM" in _refused(lambda: api.set("anything", "x"))
    for command in (("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "0"), ("ACL", "LIST"),
                    ("KEYS", "*"), ("SHUTDOWN",), ("REPLICAOF", "NO", "ONE"), ("SCRIPT", "FLUSH"),
                    ("SUBSCRIBE", "x")):  # fmt: skip
        assert "NOPERM" in _refused(_run(api, command)), command


@pytest.mark.parametrize("script", [KEDA_SCRIPT, KEDA_SCRIPT_2_20], ids=["2.12-2.18", "2.20"])
def test_keda_reads_every_trigger_and_cannot_write(acl_redis: AclRedis, script: str) -> None:
    """KEDA's scaler as it talks to Redis: HELLO 3 with AUTH (go-redis initConn, RESP3), PING
    (getRedisClient), then `EVAL <script> 1 <listName>` for each trigger of the ScaledObject
    (kedacore/keda pkg/scalers/redis_scaler.go, createRedisScalerWithClient). It reads list,
    hash and sorted-set lengths, including keys that do not exist yet (`none` -> LLEN), and can
    write nothing: the EVAL key check is read-write (redis src/commands/eval.json), but the
    only commands the script may run are TYPE and the length reads."""
    admin = acl_redis.admin
    admin.lpush("spillway", "a", "b", "c")
    admin.hset("unacked", mapping={"t1": "x", "t2": "y"})
    admin.zadd("spillway:scheduled", {"m": 1})
    keda = redis.Redis(
        port=acl_redis.server.port,
        username="keda",
        password=acl_redis.passwords["keda"],
        protocol=3,
    )
    assert keda.ping()
    lengths = {
        name: keda.eval(script, 1, name)
        for name in ("spillway", "unacked", "spillway:scheduled", "unacked:long")
        if acl.owners(acl_redis.layout, name)
    }
    assert lengths == {"spillway": 3, "unacked": 2, "spillway:scheduled": 1}
    assert keda.eval(script, 1, keys.unacked_key("", "")) == 2
    assert acl_redis.refusals() == []
    assert "NOPERM" in _refused(lambda: keda.lpush("spillway", "x"))
    assert "NOPERM" in _refused(lambda: keda.delete("spillway"))
    writer = "return redis.call('LPUSH', KEYS[1], 'x')"
    assert "can't run this command" in _refused(lambda: keda.eval(writer, 1, "spillway"))
    assert "NOPERM" in _refused(lambda: keda.eval(script, 1, "spillway:inv:x"))
    assert "NOPERM" in _refused(lambda: keda.hgetall("unacked"))
    assert "NOPERM" in _refused(lambda: keda.eval(script, 1, _seed_auth(acl_redis)))
    assert admin.llen("spillway") == 3


def test_sender_reaches_its_outbox_records_and_dead_letters_only(acl_redis: AclRedis) -> None:
    sender = acl_redis.client("sender")
    outbox = keys.outbox_key("")
    sender.lpush(outbox, "{}")
    assert sender.rpop(outbox) == b"{}"
    sender.hset("spillway:inv:abc", "callback", "sent")
    assert "NOPERM" in _refused(lambda: sender.lpush("spillway", "x"))
    assert "NOPERM" in _refused(lambda: sender.hgetall(_seed_auth(acl_redis)))
    assert "NOPERM" in _refused(_run(sender, ("FLUSHALL",)))


def test_an_api_whose_user_lacks_a_permission_answers_503_not_500(
    acl_redis: AclRedis, api_factory: Callable[..., Proc]
) -> None:
    """Rules older than the code (a key family or command added since `scripts/redis-secret
    refresh`) make Redis answer NOPERM: that is the deployment's fault, not the caller's, and
    the submit is refused as unavailable, with a problem, never a 500."""
    api = api_factory(acl_redis.url("keda"))  # may EVAL, but not on the API's keys
    response = httpx.post(f"{api.url}/v1/functions/echo/invocations", json={"n": 1})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:spillway:problem:queue-unavailable"
    assert acl_redis.admin.llen("spillway") == 0


def test_no_password_no_access(acl_redis: AclRedis) -> None:
    """No user logs in without a password: the default user has one too."""
    anonymous = redis.Redis(port=acl_redis.server.port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    wrong = redis.Redis(port=acl_redis.server.port, username="worker", password="nope")
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
