"""The default retention fits the platform Redis's memory budget (docs/deploy.md, "Memory budget").

Measured, not assumed: invocations are submitted by the API's script and taken and finished by
the worker's scripts (functions/worker/lua/fetch.lua, finish.lua), and Redis's own
`used_memory` gives what each state holds. Raising SPILLWAY_RESULT_TTL or
SPILLWAY_IDEMPOTENCY_TTL past what the budget holds at the rate below fails this test.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis

from functions import keys
from functions.api.main import registry
from functions.api.resp import Client
from functions.api.submit import Submitter
from functions.settings import Settings
from functions.worker.inflight import Inflight, PoolKeys, error_json, source
from tests.support.processes import ROOT

pytestmark = pytest.mark.anyio
RATE = 40  # invocations/s, each with an Idempotency-Key, that the defaults must hold
N = 1000
# 80 bytes, in and out: over Redis's hash-max-listpack-value (64), so a record holding it as
# its result is a real hash table, as most records with a result are.
PAYLOAD = '{"order":"A-1042","sku":"chair-oak","qty":2,"note":"leave at the door, thanks"}'


def platform_maxmemory() -> int:
    text = (ROOT / "platform" / "redis.yaml").read_text()
    match = re.search(r"^\s*maxmemory (\d+)mb$", text, flags=re.MULTILINE)
    assert match, "platform/redis.yaml sets no maxmemory in mb"
    return int(match.group(1)) * 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """Bytes one invocation holds in Redis, by state."""

    queued: int  # record + message, waiting
    record: int  # finished record with its result
    idempotency: int  # its Idempotency-Key, once finished
    dead_letter: int  # a failed invocation's dead-letter entry, besides its record


@pytest.fixture
async def submitter(redis_url: str, redis_client: redis.Redis) -> AsyncIterator[Submitter]:
    settings = Settings(REDIS_URL=redis_url, MEMORY_ADMISSION=1)
    client = Client(redis_url)
    yield Submitter(client, settings, registry)
    await client.aclose()


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


async def measure(submitter: Submitter, client: redis.Redis) -> Sizes:
    echo = registry.get("echo")
    assert echo is not None
    inflight = Inflight(client, PoolKeys.of("", ""), record_ttl=3600, dead_letter_max=N)
    inflight.acquire("w", 60, [echo.task_name])
    fetch = client.register_script(source("fetch"))

    async def run(count: int, outcome: str) -> int:
        """Submit and finish `count` invocations; the bytes each held while queued."""
        start = used(client)
        for n in range(count):
            await submitter.submit(echo, [PAYLOAD], idempotency_key=f"{outcome}-{n:06d}")
        queued = used(client)
        for _ in range(count):
            keys_, args = inflight.fetch_args("w", [keys.queue_key("", echo.queue)], max_lost=3)
            tag = fetch(keys=keys_, args=args)[1].decode()
            invocation_id = tag.rpartition(".")[0]
            if outcome == "ok":
                inflight.finish("w", tag, invocation_id, "succeeded", "result", PAYLOAD)
            else:
                dead = ("retries_exhausted", error_json("ValueError", "no such sku", ["f.py:1"]))
                inflight.finish("w", tag, invocation_id, "failed", "error", "ValueError", dead)
        return (queued - start) // count

    def forget_keys(outcome: str) -> None:
        pattern = keys.idempotency_key("", "echo", f"{outcome}-*")
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)

    start = used(client)
    queued = await run(N, "ok")
    finished = used(client)
    forget_keys("ok")
    records = used(client)
    await run(N // 2, "dead")
    forget_keys("dead")
    record = (records - start) // N
    return Sizes(
        queued=queued,
        record=record,
        idempotency=(finished - records) // N,
        dead_letter=(used(client) - records) // (N // 2) - record,
    )


async def test_the_default_retention_fits_the_platform_redis_budget(
    submitter: Submitter, redis_client: redis.Redis
) -> None:
    """At RATE invocations/s, the finished records and keys kept for their TTLs, plus one full
    backlog and one full dead-letter store, stay under the admission share of maxmemory."""
    defaults = Settings()
    sizes = await measure(submitter, redis_client)
    print(f"\nbytes per invocation: {sizes}")
    kept = RATE * (
        sizes.record * defaults.RESULT_TTL + sizes.idempotency * defaults.IDEMPOTENCY_TTL
    )
    reserve = defaults.MAX_BACKLOG * sizes.queued + defaults.DEAD_LETTER_MAX * sizes.dead_letter
    budget = defaults.MEMORY_ADMISSION * platform_maxmemory()
    assert 0 < sizes.record < sizes.queued < 4096, sizes
    assert kept + reserve <= budget, (kept, reserve, budget)
