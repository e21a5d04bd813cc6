"""Filing dead letters (functions/worker/lua/_lib.lua, dead_letter): bounds and accounting."""

from __future__ import annotations

import json

import redis

from functions.worker.inflight import Inflight, PoolKeys
from tests.worker.test_inflight import QUEUE, fetch, submit

KIB = 1024


def _inflight(client: redis.Redis, *, count: int = 100, max_bytes: int = 0) -> Inflight:
    return Inflight(
        client,
        PoolKeys.of("", ""),
        record_ttl=60,
        dead_letter_max=count,
        dead_letter_max_bytes=max_bytes,
    )


def _junk(inflight: Inflight, worker: str, text: str) -> None:
    inflight.redis.lpush(QUEUE, text)
    tag = fetch(inflight, worker)[1]
    assert inflight.quarantine(worker, tag, "malformed", "DecodeError", "not JSON") == 1


def _stored(client: redis.Redis) -> list[str]:
    return sorted(json.loads(v)["message"] for v in client.hvals(f"spillway:dlq:{QUEUE}"))


def _held_bytes(client: redis.Redis) -> int:
    entries = client.hvals(f"spillway:dlq:{QUEUE}")
    summaries = client.hvals(f"spillway:dlq:{QUEUE}:summary")
    return sum(map(len, entries)) + sum(map(len, summaries))


def test_the_store_sheds_its_oldest_to_stay_under_its_bytes(redis_client: redis.Redis) -> None:
    inflight = _inflight(redis_client, max_bytes=8 * KIB)
    inflight.acquire("w", 10, [])
    for n in range(8):
        _junk(inflight, "w", f"{n}" * 2000)
    held = _held_bytes(redis_client)
    assert held <= 8 * KIB
    assert int(redis_client.get(f"spillway:dlq:{QUEUE}:bytes") or 0) == held
    # Each entry takes about 2.3 KB: three fit, the five oldest went.
    assert _stored(redis_client) == [f"{n}" * 2000 for n in (5, 6, 7)]
    assert redis_client.hget("spillway:dlq:shed", QUEUE) == b"5"


def test_a_message_over_half_the_bound_is_kept_cut_short(redis_client: redis.Redis) -> None:
    inflight = _inflight(redis_client, max_bytes=8 * KIB)
    inflight.acquire("w", 10, [])
    _junk(inflight, "w", "x" * 20 * KIB)
    (raw,) = redis_client.hvals(f"spillway:dlq:{QUEUE}")
    entry = json.loads(raw)
    assert entry["truncated"] is True and entry["message_bytes"] == 20 * KIB
    assert entry["message"] == "x" * 4 * KIB
    assert _held_bytes(redis_client) <= 8 * KIB


def test_counts_by_function_and_reason_and_totals_are_kept_in_redis(
    redis_client: redis.Redis,
) -> None:
    inflight = _inflight(redis_client, count=2)
    inflight.acquire("w", 10, ["spillway.echo"])
    for n in range(3):
        _junk(inflight, "w", f"junk {n}")
    invocation_id = submit(redis_client)
    tag = fetch(inflight, "w")[1]
    inflight.finish(
        "w", tag, invocation_id, "failed", "error", "ValueError: no", ("retries_exhausted", "{}")
    )
    counts = redis_client.hgetall(f"spillway:dlq:{QUEUE}:counts")
    # Four filed, two kept: the two oldest junk entries were shed.
    assert counts == {b"\tmalformed": b"1", b"echo\tretries_exhausted": b"1"}
    totals = redis_client.hgetall("spillway:dlq:totals")
    assert totals == {
        f"{QUEUE}\tmalformed".encode(): b"3",
        f"{QUEUE}\tretries_exhausted".encode(): b"1",
    }
    assert redis_client.smembers("spillway:dlq:queues") == {QUEUE.encode()}
    assert redis_client.hget("spillway:dlq:shed", QUEUE) == b"2"
    summary = json.loads(redis_client.hget(f"spillway:dlq:{QUEUE}:summary", invocation_id) or "{}")
    assert summary["function"] == "echo" and summary["reason"] == "retries_exhausted"
    assert "message" not in summary


def test_a_second_failure_replaces_the_entry_and_keeps_its_first_time(
    redis_client: redis.Redis,
) -> None:
    inflight = _inflight(redis_client)
    inflight.acquire("w", 10, ["spillway.echo"])
    invocation_id = submit(redis_client)
    for _ in range(2):
        tag = fetch(inflight, "w")[1]
        inflight.finish(
            "w", tag, invocation_id, "failed", "error", "E: x", ("retries_exhausted", "{}")
        )
        first = json.loads(redis_client.hget(f"spillway:dlq:{QUEUE}", invocation_id) or "{}")
        # Back on the queue as a replay would put it (functions/deadletters/lua/replay.lua).
        redis_client.hset(f"spillway:inv:{invocation_id}", "status", "queued")
        redis_client.lpush(QUEUE, first["message"])
    entry = json.loads(redis_client.hget(f"spillway:dlq:{QUEUE}", invocation_id) or "{}")
    assert entry["first_failed_at"] < entry["last_failed_at"]
    assert redis_client.hlen(f"spillway:dlq:{QUEUE}") == 1
    counts = redis_client.hgetall(f"spillway:dlq:{QUEUE}:counts")
    assert counts == {b"echo\tretries_exhausted": b"1"}
    assert int(redis_client.get(f"spillway:dlq:{QUEUE}:bytes") or 0) == _held_bytes(redis_client)
    assert redis_client.hget("spillway:dlq:totals", f"{QUEUE}\tretries_exhausted") == b"2"
