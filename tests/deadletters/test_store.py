"""The dead-letter store (functions/deadletters/store.py and lua/) against a real Redis."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
import redis
from pydantic import BaseModel

from functions.deadletters import store as store_module
from functions.deadletters.connection import Connection
from functions.deadletters.errors import (
    Ambiguous,
    InvalidCursor,
    InvalidPayload,
    NotFound,
    NotReplayable,
)
from functions.deadletters.store import DeadLetters, Filters, decode_cursor, encode_cursor
from functions.registry import FunctionSpec, Registry
from functions.worker.inflight import Inflight, PoolKeys, source
from tests.support.dead_letters import WORKER
from tests.support.processes import redis_server_or_skip
from tests.worker.conftest import echo_spec
from tests.worker.test_inflight import QUEUE, fetch, submit
from tests.worker.test_inflight import record as _record

pytestmark = pytest.mark.anyio


class Strict(BaseModel):
    """An input model a payload can fail."""

    n: int


async def test_list_pages_newest_first_with_filters(
    store: DeadLetters, fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    failed = [fail() for _ in range(5)]
    junk_id = junk("not json at all")
    page = await store.list(Filters(), limit=2)
    assert [item["id"] for item in page.items] == [junk_id, failed[4]]
    assert page.next_cursor
    seen = [item["id"] for item in page.items]
    while page.next_cursor:
        page = await store.list(Filters(), limit=2, cursor=page.next_cursor)
        seen += [item["id"] for item in page.items]
    assert seen == [junk_id, *reversed(failed)]

    only = await store.list(Filters(reason="retries_exhausted", function="echo"), limit=50)
    assert {item["id"] for item in only.items} == set(failed) and only.next_cursor is None
    item = only.items[0]
    assert set(item) == {
        "id", "invocation_id", "function", "queue", "reason", "error", "attempts",
        "first_failed_at", "last_failed_at",
    }  # fmt: skip
    assert item["error"] == {"type": "ValueError", "message": "bad input"}
    assert item["queue"] == QUEUE and item["attempts"] == 1
    assert item["last_failed_at"].endswith("Z")
    malformed = await store.list(Filters(queue=QUEUE, reason="malformed"))
    assert [i["id"] for i in malformed.items] == [junk_id]
    assert malformed.items[0]["invocation_id"] is None
    assert (await store.list(Filters(queue="elsewhere"))).items == []


async def test_a_listing_examines_a_bounded_number_of_entries(
    store: DeadLetters, fail: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter that matches nothing answers short pages with a cursor, not one long scan."""
    monkeypatch.setattr(store_module, "SCAN_BUDGET", 3)
    for _ in range(7):
        fail()
    calls = 0
    page = await store.list(Filters(reason="poison"))
    while True:
        calls += 1
        assert page.items == []
        if page.next_cursor is None:
            break
        page = await store.list(Filters(reason="poison"), cursor=page.next_cursor)
    assert calls == 3  # 3 + 3 + 1 entries examined


def test_cursors_are_opaque_and_checked() -> None:
    cursor = encode_cursor("q", "1767225600.5", "abc")
    assert decode_cursor(cursor) == ("q", "1767225600.5", "abc")
    for bad in ("not a cursor", "!!!", encode_cursor("q", "soon", "abc")):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


async def test_a_cursor_of_another_queue_is_refused(
    store: DeadLetters, fail: Callable[..., str]
) -> None:
    fail()
    fail()
    page = await store.list(Filters(), limit=1)
    assert page.next_cursor
    with pytest.raises(InvalidCursor):
        await store.list(Filters(queue="other"), cursor=page.next_cursor)


async def test_show_finds_an_entry_in_any_queue(
    store: DeadLetters, fail: Callable[..., str], redis_client: redis.Redis
) -> None:
    invocation_id = fail(body='{"secret": 1}')
    entry = await store.get(invocation_id)
    assert entry["queue"] == QUEUE and entry["reason"] == "retries_exhausted"
    assert json.loads(entry["message"])["headers"]["id"] == invocation_id
    assert entry == await store.get(invocation_id, QUEUE)
    with pytest.raises(NotFound):
        await store.get(invocation_id, "other")
    with pytest.raises(NotFound):
        await store.get("nope")
    # The same id filed in a second queue (a copy pushed by hand): ambiguous until named.
    raw = redis_client.hget(f"spillway:dlq:{QUEUE}", invocation_id) or b""
    redis_client.hset("spillway:dlq:other", invocation_id, raw)
    redis_client.sadd("spillway:dlq:queues", "other")
    with pytest.raises(Ambiguous) as ambiguous:
        await store.get(invocation_id)
    assert ambiguous.value.queues == ["other", QUEUE]


async def test_a_failed_record_lasts_as_long_as_its_dead_letter(
    store: DeadLetters, fail: Callable[..., str], redis_client: redis.Redis
) -> None:
    kept, deleted = fail(), fail()
    assert redis_client.ttl(f"spillway:inv:{kept}") == -1
    await store.delete(deleted)
    assert 0 < redis_client.ttl(f"spillway:inv:{deleted}") <= 60, "its own TTL starts"
    assert redis_client.ttl(f"spillway:inv:{kept}") == -1


async def test_replay_queues_the_same_invocation_as_a_new_attempt(
    store: DeadLetters, fail: Callable[..., str], redis_client: redis.Redis, dl_inflight: Inflight
) -> None:
    idem = "spillway:idem:echo:key-1"
    redis_client.hset(idem, mapping={"value": "x", "pending": 1, "ttl": 100})
    invocation_id = fail(idem=idem)
    # The idempotency key expires as for any finished invocation; the record is kept while its
    # dead letter exists (an operator may replay it long after its TTL).
    assert 0 < redis_client.ttl(idem) and redis_client.ttl(f"spillway:inv:{invocation_id}") == -1

    assert await store.replay(invocation_id) == invocation_id
    record = _record(redis_client, invocation_id)
    assert record["status"] == "queued" and record["attempts"] == "1"
    assert not {"dead_letter", "error", "finished_at"} & set(record)
    assert redis_client.ttl(f"spillway:inv:{invocation_id}") == -1, "unfinished: no TTL"
    assert redis_client.ttl(idem) == -1 and redis_client.hget(idem, "pending") == b"1"
    (event,) = json.loads(record["history"])
    assert event["event"] == "replayed"
    assert event["detail"] == {
        "error": "ValueError: bad input",
        "reason": "retries_exhausted",
        "dead_letter": f"{QUEUE}/{invocation_id}",
        "by": "test",
        "payload": "original",
    }
    assert redis_client.hlen(f"spillway:dlq:{QUEUE}") == 0
    assert redis_client.hgetall(f"spillway:dlq:{QUEUE}:counts") == {
        b"echo\tretries_exhausted": b"0"
    }
    assert redis_client.get(f"spillway:dlq:{QUEUE}:bytes") == b"0"
    # The original message is back on the queue, and a worker takes it as attempt 2.
    kind, _, _, _, attempts, *_ = fetch(dl_inflight, WORKER)
    assert (kind, attempts) == ("ok", "2")

    with pytest.raises(NotFound):
        await store.replay(invocation_id)


async def test_replay_is_refused_unless_the_record_is_failed_and_points_here(
    store: DeadLetters,
    fail: Callable[..., str],
    junk: Callable[[str], str],
    redis_client: redis.Redis,
) -> None:
    junk_id = junk("{}")
    with pytest.raises(NotReplayable) as refused:
        await store.replay(junk_id)
    assert refused.value.code == "no_invocation" and "delete it" in str(refused.value)

    ran_again = fail()
    redis_client.hset(f"spillway:inv:{ran_again}", "status", "succeeded")
    with pytest.raises(NotReplayable) as refused:
        await store.replay(ran_again)
    assert refused.value.code == "not_failed" and "succeeded" in str(refused.value)

    moved = fail()
    redis_client.hset(f"spillway:inv:{moved}", "dead_letter", f"other/{moved}")
    with pytest.raises(NotReplayable) as refused:
        await store.replay(moved)
    assert refused.value.code == "elsewhere"

    expired = fail()
    redis_client.delete(f"spillway:inv:{expired}")
    with pytest.raises(NotReplayable) as refused:
        await store.replay(expired)
    assert refused.value.code == "record_expired"
    # Nothing was queued and every entry is still there.
    assert redis_client.llen(QUEUE) == 0
    assert redis_client.hlen(f"spillway:dlq:{QUEUE}") == 4


async def test_replay_with_a_corrected_payload_builds_a_new_message(
    store: DeadLetters, fail: Callable[..., str], redis_client: redis.Redis, dl_inflight: Inflight
) -> None:
    registry = Registry()
    registry.add(echo_spec)
    invocation_id = fail(body='{"n": 1}')
    assert await store.replay(invocation_id, payload={"n": 2}, registry=registry) == invocation_id
    kind, _, _, raw, *_ = fetch(dl_inflight, WORKER)
    message = json.loads(raw)
    assert kind == "ok" and message["headers"]["id"] == invocation_id
    assert json.loads(base64.b64decode(message["body"]))[0] == [{"n": 2}]
    history = json.loads(_record(redis_client, invocation_id)["history"])
    assert history[-1]["detail"]["payload"] == "corrected"


async def test_a_payload_is_validated_against_the_function(
    store: DeadLetters, fail: Callable[..., str]
) -> None:
    invocation_id = fail()
    with pytest.raises(NotReplayable) as refused:
        await store.replay(invocation_id, payload={"n": 2}, registry=Registry())
    assert refused.value.code == "unknown_function"
    registry = Registry()
    registry.add(FunctionSpec("echo", lambda p: p, Strict, Strict, time_limit=10))
    with pytest.raises(InvalidPayload) as invalid:
        await store.replay(invocation_id, payload={"n": "x"}, registry=registry)
    assert invalid.value.errors[0]["path"] == "/payload/n"


async def test_bulk_replay_and_purge_follow_the_filters_and_the_limit(
    store: DeadLetters,
    fail: Callable[..., str],
    junk: Callable[[str], str],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_module, "STEP", 2)  # several steps
    failed = [fail() for _ in range(5)]
    junk("junk")
    first = await store.replay_matching(Filters(reason="retries_exhausted"), limit=3)
    assert len(first.replayed) == 3 and first.more and not first.skipped
    rest = await store.replay_matching(Filters(queue=QUEUE), limit=100)
    assert sorted(first.replayed + rest.replayed) == sorted(failed)
    assert rest.skipped == {"no_invocation": 1} and not rest.more
    assert redis_client.llen(QUEUE) == 5

    purged = await store.purge(Filters(reason="malformed"))
    assert (purged.deleted, purged.more) == (1, False)
    assert redis_client.hlen(f"spillway:dlq:{QUEUE}") == 0


async def test_delete_removes_one_and_notes_it_in_the_record(
    store: DeadLetters, fail: Callable[..., str], redis_client: redis.Redis
) -> None:
    invocation_id = fail()
    await store.delete(invocation_id)
    with pytest.raises(NotFound):
        await store.delete(invocation_id)
    history = json.loads(_record(redis_client, invocation_id)["history"])
    assert history[-1]["event"] == "dead_letter_deleted"


async def test_stats_come_from_the_counts_in_redis(
    store: DeadLetters, fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    for _ in range(3):
        fail()
    junk("junk")
    replayed = fail()
    await store.replay(replayed)
    stats = await store.stats()
    assert stats.held == {(QUEUE, "echo", "retries_exhausted"): 3, (QUEUE, "", "malformed"): 1}
    assert stats.totals == {(QUEUE, "retries_exhausted"): 4, (QUEUE, "malformed"): 1}
    assert stats.bytes[QUEUE] > 0 and stats.shed == {}


async def test_an_operator_can_replay_and_purge_in_a_full_redis() -> None:
    """Redis refuses a script's first write when it may grow memory, and only the first
    (redis 7.0.15 src/script.c, scriptVerifyOOM; 6.2 src/scripting.c, lua_write_dirty): replay
    and delete start by removing the entry, so a Redis at its maxmemory can still be emptied."""
    server = redis_server_or_skip("needs redis-server to fill one up")
    client = redis.Redis.from_url(server.url)
    connection = Connection(server.url)
    try:
        inflight = Inflight(client, PoolKeys.of("", ""), record_ttl=60, dead_letter_max=100)
        inflight.acquire(WORKER, 30, [echo_spec.task_name])
        ids = []
        for _ in range(3):
            ids.append(submit(client))
            tag = fetch(inflight, WORKER)[1]
            inflight.finish(WORKER, tag, ids[-1], "failed", "error", "E: x", ("poison", "{}"))
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", int(client.info("memory")["used_memory"]))
        with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
            client.set("filler", "x" * 100_000)
        store = DeadLetters(connection, "")
        assert await store.replay(ids[0]) == ids[0]
        assert (await store.purge(Filters(reason="poison"))).deleted == 2
    finally:
        await connection.aclose()
        client.close()
        server.close()


async def test_keys_follow_the_key_prefix(redis_client: redis.Redis, redis_url: str) -> None:
    """SPILLWAY_KEY_PREFIX separates deployments sharing a database: each sees only its own."""
    prefix = "blue:"
    inflight = Inflight(redis_client, PoolKeys.of(prefix, ""), record_ttl=60, dead_letter_max=9)
    inflight.acquire(WORKER, 30, [])
    redis_client.lpush(f"{prefix}{QUEUE}", "junk")
    script = redis_client.register_script(source("fetch"))
    keys_, args = inflight.fetch_args(WORKER, [f"{prefix}{QUEUE}"], max_lost=3)
    tag = script(keys=keys_, args=args)[1].decode()
    inflight.quarantine(WORKER, tag, "malformed", "DecodeError", "not JSON")
    assert redis_client.hlen(f"{prefix}spillway:dlq:{QUEUE}") == 1
    connection = Connection(redis_url)
    try:
        blue = await DeadLetters(connection, prefix).list(Filters())
        assert [item["queue"] for item in blue.items] == [QUEUE]
        assert (await DeadLetters(connection, "").list(Filters())).items == []
        assert (await DeadLetters(connection, prefix).stats()).held == {(QUEUE, "", "malformed"): 1}
    finally:
        await connection.aclose()
