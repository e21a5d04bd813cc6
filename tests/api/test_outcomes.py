"""What a 503 on submit promises, told apart against a real redis-server paused with SIGSTOP.

Not sent (the command never left the API): "nothing was enqueued" holds. Sent and unanswered
(the deadline passed after the write): the script runs anyway when Redis resumes, so the answer
is "outcome unknown" with the ids, and the ids are what the producer finds afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import redis
from prometheus_client import REGISTRY

from functions import keys
from functions.localredis import RedisServer
from functions.settings import Settings
from tests.api.conftest import paused

pytestmark = pytest.mark.anyio
SINGLE = "/v1/functions/echo/invocations"
BATCH = "/v1/functions/echo/invocations/batch"


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_submit_sent_to_a_paused_redis_is_outcome_unknown_with_its_ids(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    use_settings(REDIS_URL=own_redis.url, REDIS_TIMEOUT=0.2, RETRY_AFTER=4)
    # Two pooled connections, so both submits below go straight out (a new connection would
    # first wait for PING's reply, and time out before the submit is written: not sent).
    warm = await asyncio.gather(*(client.post(SINGLE, json={"warm": n}) for n in range(2)))
    assert [r.status_code for r in warm] == [202, 202]
    unknown_before = counted("spillway_invocations_outcome_unknown_total", function="echo")
    rejected_before = counted(
        "spillway_invocations_rejected_total", function="echo", reason="redis_unavailable"
    )
    with paused(own_redis):
        single = await client.post(SINGLE, json={"n": 1})
        batch = await client.post(BATCH, json={"items": [{"n": 2}, {"n": 3}, {"n": 4}]})
    for response, count in ((single, 1), (batch, 3)):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "4"
        body = response.json()
        assert body["type"] == "urn:spillway:problem:outcome-unknown"
        assert "nothing was enqueued" not in body["detail"]
        assert len(body["ids"]) == count
    assert counted("spillway_invocations_outcome_unknown_total", function="echo") == (
        unknown_before + 4
    )
    assert (
        counted("spillway_invocations_rejected_total", function="echo", reason="redis_unavailable")
        == rejected_before
    )

    # Redis resumed and ran both scripts: every id the producer was given exists, queued.
    check = redis.Redis.from_url(own_redis.url)
    try:
        assert check.llen("spillway") == 2 + 1 + 3
    finally:
        check.close()
    for invocation_id in [*single.json()["ids"], *batch.json()["ids"]]:
        state = await client.get(f"/v1/invocations/{invocation_id}")
        assert state.status_code == 200 and state.json()["status"] == "queued", state.text


async def test_a_submit_that_never_left_the_api_is_unavailable_and_nothing_is_enqueued(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings], own_redis: RedisServer
) -> None:
    """A password-protected Redis answers nothing while paused, so a new connection times out
    in AUTH and the submit script is never written: a real "nothing was enqueued"."""
    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("requirepass", "s3cret")
    admin.close()
    url = f"redis://:s3cret@127.0.0.1:{own_redis.port}/0"
    use_settings(REDIS_URL=url, REDIS_TIMEOUT=0.2)
    rejected_before = counted(
        "spillway_invocations_rejected_total", function="echo", reason="redis_unavailable"
    )
    with paused(own_redis):
        single = await client.post(SINGLE, json={"n": 1})
        batch = await client.post(BATCH, json={"items": [{"n": 2}, {"n": 3}]})
    for response in (single, batch):
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["type"] == "urn:spillway:problem:queue-unavailable"
        assert "nothing was enqueued" in body["detail"]
        assert "ids" not in body
    assert (
        counted("spillway_invocations_rejected_total", function="echo", reason="redis_unavailable")
        == rejected_before + 3
    )
    check = redis.Redis.from_url(url)
    try:
        assert check.llen("spillway") == 0
        assert check.keys(keys.record_key("", "*")) == []
    finally:
        check.close()
