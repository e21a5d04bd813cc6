"""The Celery app: configuration chosen so that the queue list plus `unacked` is the true backlog.

Every setting below is set on purpose; the comments say why. Celery's settings reference:
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from functions import keys
from functions import registry as registry_module
from functions.errors import ConfigError
from functions.registry import Registry
from functions.settings import Settings, get_settings
from functions.worker import endpoint, health, tasks


def check(settings: Settings, registry: Registry) -> None:
    """Refuse settings under which Redis would redeliver tasks that are still running."""
    vt = settings.VISIBILITY_TIMEOUT
    for spec in registry:
        if spec.time_limit >= vt:
            raise ConfigError(
                f"function {spec.name!r} has time_limit {spec.time_limit:g}s, not below "
                f"SPILLWAY_VISIBILITY_TIMEOUT={vt}s: Redis would redeliver it while it still runs"
            )
        longest_wait = spec.retry.longest_delay
        if longest_wait >= vt:
            raise ConfigError(
                f"function {spec.name!r} may wait {longest_wait:g}s before a retry, not below "
                f"SPILLWAY_VISIBILITY_TIMEOUT={vt}s: the delayed retry would be redelivered"
            )
    if settings.SOFT_SHUTDOWN_TIMEOUT >= vt:
        raise ConfigError(
            "SPILLWAY_SOFT_SHUTDOWN_TIMEOUT must be below SPILLWAY_VISIBILITY_TIMEOUT"
        )
    unknown = set(settings.QUEUES) - set(registry.queues())
    if unknown:
        raise ConfigError(f"SPILLWAY_QUEUES names queues no function uses: {sorted(unknown)}")


def config(settings: Settings, registry: Registry) -> dict[str, Any]:
    transport: dict[str, Any] = {
        # Redeliver a task whose worker vanished (kill -9, node loss) after this long. Must exceed
        # every time limit, or long tasks run twice (celery docs, "Redis: Visibility timeout").
        "visibility_timeout": settings.VISIBILITY_TIMEOUT,
        # kombu 5.7 sweeps `unacked` every interval x throttle seconds (default 10 x 10 = 100 s);
        # a throttle of 1 makes orphaned tasks come back within one interval of expiring.
        "unacked_restore_interval": settings.RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
        "socket_keepalive": True,
        "health_check_interval": 10,
    }
    if settings.POOL:
        # The pool's own in-flight hash (and its sweep index and lock), so the pool's KEDA
        # trigger counts only its own work while every pool shares the API and the database.
        # No prefix here: kombu applies global_keyprefix to these names itself.
        transport["unacked_key"] = keys.unacked_key("", settings.POOL)
        transport["unacked_index_key"] = keys.unacked_index_key("", settings.POOL)
        transport["unacked_mutex_key"] = keys.unacked_mutex_key("", settings.POOL)
    if settings.KEY_PREFIX:
        # Prefixes the queue lists *and* `unacked`, so pools sharing a database count apart.
        transport["global_keyprefix"] = settings.KEY_PREFIX
    queues = settings.QUEUES or registry.queues()
    return {
        "broker_url": settings.REDIS_URL,
        "broker_transport_options": transport,
        # Retry the broker forever: under Kubernetes a worker that gives up just crash-loops.
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # JSON only, both ways; pickle would let anyone who can write to Redis run code here.
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Results live in the invocation records (functions/records.py), which expire after
        # SPILLWAY_RESULT_TTL; Celery's own backend stays configured for tools that expect one.
        "result_backend": settings.REDIS_URL,
        "result_backend_transport_options": {"visibility_timeout": settings.VISIBILITY_TIMEOUT},
        "result_expires": settings.RESULT_TTL,
        "task_ignore_result": True,
        # At-least-once: ack after the task ran, and requeue when its pool child dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # No hoarding: a worker takes a message only when a pool slot is free, so every message
        # is either in the queue list or in `unacked`, which is what KEDA counts (celery 5.6+).
        "worker_disable_prefetch": True,
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": settings.WORKER_CONCURRENCY,
        "worker_pool": settings.WORKER_POOL,
        # SIGTERM (pod deletion) -> soft shutdown: running tasks get this long, then they are
        # cancelled and their messages requeued for another pod. `spillway worker` sets
        # REMAP_SIGTERM=SIGQUIT so SIGTERM takes this path (celery docs, "Soft Shutdown").
        "worker_soft_shutdown_timeout": settings.SOFT_SHUTDOWN_TIMEOUT,
        # Not when idle: Celery then sleeps the whole timeout for nothing (WorkController.
        # wait_for_soft_shutdown). Delayed retries (ETA) held by an idle worker are unacked
        # messages, which kombu restores to the queue when the connection closes.
        "worker_enable_soft_shutdown_on_idle": False,
        # A task that lost its broker connection cannot be acked; cancel it rather than let the
        # redelivered copy run in parallel (planned default in Celery 6).
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # Events for Flower (`celery -A functions.worker.app flower`), published in batches by
        # our consumer rather than up to three round trips per task (functions/worker/consumer.py).
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_consumer": "functions.worker.consumer:Consumer",
        "task_default_queue": registry_module.DEFAULT_QUEUE,
        "task_queues": [Queue(name, routing_key=name) for name in queues],
        "task_routes": {spec.task_name: {"queue": spec.queue} for spec in registry},
        "worker_hijack_root_logger": False,
        "spillway_http_port": settings.WORKER_HTTP_PORT,
        "spillway_heartbeat_interval": settings.HEARTBEAT_INTERVAL,
        "spillway_heartbeat_max_age": settings.HEARTBEAT_MAX_AGE,
    }


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    registry = registry_module.load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)
    check(settings, registry)
    celery = Celery("spillway")
    celery.conf.update(config(settings, registry))
    for spec in registry:
        tasks.register(celery, spec, settings)
    celery.steps["consumer"].add(health.Heartbeat)
    celery.steps["worker"].add(endpoint.HttpEndpoint)
    return celery


app = create_app()
