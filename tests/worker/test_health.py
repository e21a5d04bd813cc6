"""The worker probe's decision: fail only when the worker could work and does not."""

from __future__ import annotations

import time

import pytest

from functions.localredis import free_port
from functions.worker import health


@pytest.fixture(autouse=True)
def no_beat() -> None:
    health._state.clear()


def test_starting_fails_until_the_first_beat_when_redis_answers() -> None:
    assert health.health(30, lambda: True) == (503, {"status": "starting"})
    health.beat()
    status, body = health.health(30, lambda: True)
    assert (status, body["status"]) == (200, "ok")


def test_a_stale_beat_with_redis_up_means_stuck() -> None:
    health._state["beat"] = time.monotonic() - 31
    status, body = health.health(30, lambda: True)
    assert (status, body["status"]) == (503, "stalled")
    assert body["heartbeat_age_seconds"] >= 31


def test_a_redis_outage_does_not_fail_liveness() -> None:
    health._state["beat"] = time.monotonic() - 31
    assert health.health(30, lambda: False)[0] == 200
    assert health.health(30, lambda: False)[1]["status"] == "broker_unavailable"
    health._state.clear()
    assert health.health(30, lambda: False)[1]["status"] == "broker_unavailable"


def test_a_fresh_beat_never_asks_redis() -> None:
    health.beat()

    def explode() -> bool:
        raise AssertionError("asked Redis although the beat is fresh")

    assert health.health(30, explode)[0] == 200


def test_broker_probe_against_real_redis(redis_url: str) -> None:
    assert health.broker_probe(redis_url)() is True
    assert health.broker_probe(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)() is False
