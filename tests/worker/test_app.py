"""The worker's Celery configuration and the checks it runs before starting."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from functions.errors import ConfigError
from functions.registry import Registry, function, load_modules, registry
from functions.settings import Settings
from functions.worker.app import check, config, create_app


class M(BaseModel):
    x: int = 0


def _registry(time_limit: float) -> Registry:
    target = Registry()

    @function("long", time_limit=time_limit, target=target)
    def long(payload: M) -> M:
        return payload

    return target


def test_queues_must_exist() -> None:
    with pytest.raises(ConfigError, match="no function uses"):
        check(Settings(QUEUES=["elsewhere"]), _registry(1))


def test_reliability_settings() -> None:
    conf = config(Settings(KEY_PREFIX="pool-a:", SWEEP_INTERVAL=0.5), registry)
    assert conf["accept_content"] == ["json"] and conf["task_serializer"] == "json"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_disable_prefetch"] and conf["worker_prefetch_multiplier"] == 1
    transport = conf["broker_transport_options"]
    assert conf["broker_transport"] == "functions.worker.transport:Transport"
    assert transport["global_keyprefix"] == "pool-a:"
    assert (transport["unacked_restore_interval"], transport["unacked_restore_throttle"]) == (
        0.5,
        1,
    )
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is False
    assert conf["worker_soft_shutdown_timeout"] > 0
    assert conf["worker_send_task_events"] and conf["result_expires"] > 0


def test_created_app_has_one_task_per_function_with_its_limits() -> None:
    settings = Settings()
    app = create_app(settings)
    loaded = load_modules(settings.FUNCTION_MODULES)
    assert {t for t in app.tasks if t.startswith("spillway.")} == {s.task_name for s in loaded}
    for spec in loaded:
        task = app.tasks[spec.task_name]
        assert (task.time_limit, task.soft_time_limit) == (spec.time_limit, spec.soft_time_limit)
        assert task.acks_late and task.reject_on_worker_lost and task.ignore_result
        assert task.Request == "functions.worker.request:SpillwayRequest"
    assert app.conf.task_routes["spillway.sleep"] == {"queue": "spillway"}


def test_a_pool_gets_its_own_in_flight_hash() -> None:
    assert "unacked_key" not in config(Settings(), registry)["broker_transport_options"]
    transport = config(Settings(POOL="long"), registry)["broker_transport_options"]
    assert transport["unacked_key"] == "unacked:long"


def test_remote_control_is_off_unless_asked() -> None:
    """Celery's pidbox lets anyone who can publish to Redis shut every worker down."""
    assert config(Settings(), registry)["worker_enable_remote_control"] is False
    assert config(Settings(REMOTE_CONTROL=True), registry)["worker_enable_remote_control"] is True


def test_a_rediss_url_verifies_the_server_unless_it_says_otherwise() -> None:
    """Celery's result backend refuses rediss:// without ssl_cert_reqs (celery 5.7
    celery/backends/redis.py RedisBackend.__init__): the worker chooses verification."""
    import ssl

    from functions.worker.app import tls

    verify = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert tls("rediss://u:p@redis:6379/0") == {
        "broker_use_ssl": verify,
        "redis_backend_use_ssl": verify,
    }
    assert tls("rediss://redis:6379/0?ssl_cert_reqs=none") == {}
    assert tls("redis://redis:6379/0") == {}
