"""Celery remote control: off by default, so a broadcast from anyone with Redis access does
nothing; on when asked, working under the worker's ACL user with the pidbox rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from tests.support.acl import AclRedis
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e


def _control(url: str) -> Celery:
    """What an operator's `celery -A ... inspect/control` does: kombu's pidbox Mailbox,
    broadcast over the `celery.pidbox` fanout exchange (celery/app/control.py, Control)."""
    app = Celery("operator", broker=url)
    app.conf.broker_connection_retry_on_startup = False
    return app


def test_remote_control_is_off_by_default(
    acl_redis: AclRedis, worker_factory: Callable[..., Proc]
) -> None:
    """A worker with the default settings answers no ping and ignores a broadcast `shutdown`
    (celery/worker/control.py `shutdown`: raises WorkerShutdown in the worker that gets it)."""
    worker = worker_factory(acl_redis.url("worker"))
    operator = _control(acl_redis.url("default"))
    try:
        assert operator.control.ping(timeout=2) == []
        operator.control.shutdown()
        time.sleep(3)
        assert worker.alive(), worker.log()[-2000:]
    finally:
        operator.close()
    assert acl_redis.refusals() == []


def test_remote_control_works_under_the_worker_user_when_asked(
    acl_redis_factory: Callable[..., AclRedis], worker_factory: Callable[..., Proc]
) -> None:
    """SPILLWAY_REMOTE_CONTROL=true and rules generated with remote_control=True: the worker
    joins the pidbox (SADD of the binding, PSUBSCRIBE of `/0.celery.pidbox`: kombu
    transport/redis.py Channel._subscribe) and replies, with Redis refusing it nothing."""
    server = acl_redis_factory(remote_control=True)
    worker = worker_factory(server.url("worker"), SPILLWAY_REMOTE_CONTROL="true")
    operator = _control(server.url("default"))
    try:
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not replies and time.monotonic() < deadline:
            replies = operator.control.ping(timeout=1) or []
        assert len(replies) == 1, worker.log()[-2000:]
        assert server.refusals() == []
        operator.control.shutdown()
        deadline = time.monotonic() + 20
        while worker.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not worker.alive()
    finally:
        operator.close()
    assert server.refusals() == []
