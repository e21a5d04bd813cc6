"""The Celery app: configuration chosen so that the queue list plus `unacked` is the true backlog.

Every setting below is set on purpose; the comments say why. Celery's settings reference:
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celery import Celery, signals
from kombu import Queue

from functions import keys
from functions import registry as registry_module
from functions.errors import ConfigError
from functions.registry import Registry
from functions.settings import Settings, get_settings
from functions.worker import deliveries, endpoint, fence, health, tasks


def check(settings: Settings, registry: Registry) -> None:
    unknown = set(settings.QUEUES) - set(registry.queues())
    if unknown:
        raise ConfigError(f"SPILLWAY_QUEUES names queues no function uses: {sorted(unknown)}")


def config(settings: Settings, registry: Registry) -> dict[str, Any]:
    transport: dict[str, Any] = {
        # Task messages are taken by functions/worker/transport.py; kombu's periodic restore
        # runs our sweep (due retries, expired leases) this often, every time it is due.
        "unacked_restore_interval": settings.SWEEP_INTERVAL,
        "unacked_restore_throttle": 1,
        "socket_keepalive": True,
        "health_check_interval": 10,
    }
    if settings.POOL:
        # The pool's own in-flight hash (and its sweep index and lock), so the pool's KEDA
        # trigger counts only its own work while every pool shares the API and the database.
        # No prefix here: kombu applies global_keyprefix to these names itself.
        transport["unacked_key"] = keys.unacked_key("", settings.POOL)
    if settings.KEY_PREFIX:
        # Prefixes the queue lists *and* `unacked`, so pools sharing a database count apart.
        transport["global_keyprefix"] = settings.KEY_PREFIX
    queues = settings.QUEUES or registry.queues()
    return {
        "broker_url": settings.REDIS_URL,
        # kombu's Redis transport with an atomic take-and-record and leases
        # (functions/worker/transport.py).
        "broker_transport": "functions.worker.transport:Transport",
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
        # Prefork as Celery has it, but keeping what a child will run after a broker loss
        # (functions/worker/pool.py).
        "worker_pool": (
            "functions.worker.pool:TaskPool"
            if settings.WORKER_POOL == "prefork"
            else settings.WORKER_POOL
        ),
        # SIGTERM (pod deletion) -> soft shutdown: running tasks get this long, then they are
        # cancelled and their messages requeued for another pod. `spillway worker` sets
        # REMAP_SIGTERM=SIGQUIT so SIGTERM takes this path (celery docs, "Soft Shutdown").
        "worker_soft_shutdown_timeout": settings.SOFT_SHUTDOWN_TIMEOUT,
        # Not when idle: Celery then sleeps the whole timeout for nothing (WorkController.
        # wait_for_soft_shutdown).
        "worker_enable_soft_shutdown_on_idle": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Events for Flower (`celery -A functions.worker.app flower`), published in batches by
        # our consumer rather than up to three round trips per task (functions/worker/consumer.py).
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_consumer": "functions.worker.consumer:Consumer",
        # Remote control (pidbox: `celery inspect`, `celery control shutdown`) lets anyone who
        # can publish to Redis stop every worker, and costs a subscription per worker. Off
        # unless SPILLWAY_REMOTE_CONTROL asks; the worker's Redis ACL user then needs no pidbox
        # keys or channels (functions/acl/). Task events (Flower) do not need it.
        "worker_enable_remote_control": settings.REMOTE_CONTROL,
        "task_default_queue": registry_module.DEFAULT_QUEUE,
        "task_queues": [Queue(name, routing_key=name) for name in queues],
        "task_routes": {spec.task_name: {"queue": spec.queue} for spec in registry},
        "worker_hijack_root_logger": False,
        "spillway_http_port": settings.WORKER_HTTP_PORT,
        "spillway_heartbeat_interval": settings.HEARTBEAT_INTERVAL,
        "spillway_heartbeat_max_age": settings.HEARTBEAT_MAX_AGE,
    }


def tls(url: str) -> dict[str, Any]:
    """Celery's TLS options for a `rediss://` URL that does not choose them itself: verify the
    server's certificate (against the system's trust store). Celery's Redis result backend
    refuses a rediss:// URL without `ssl_cert_reqs` (celery/backends/redis.py,
    RedisBackend.__init__, E_REDIS_SSL_CERT_REQS_MISSING_INVALID), so without this a worker
    given the same REDIS_URL as the API would not start."""
    parts = urlsplit(url)
    if parts.scheme != "rediss" or "ssl_cert_reqs" in parse_qs(parts.query):
        return {}
    verify = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return {"broker_use_ssl": verify, "redis_backend_use_ssl": verify}


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    registry = registry_module.load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)
    check(settings, registry)
    celery = Celery("spillway")
    celery.conf.update(config(settings, registry))
    celery.conf.update(tls(settings.REDIS_URL))
    for spec in registry:
        tasks.register(celery, spec, settings)
    deliveries.install(
        deliveries.Deliveries(
            settings,
            tasks=[spec.task_name for spec in registry],
            queues=settings.QUEUES or registry.queues(),
        )
    )
    celery.steps["consumer"].add(health.Heartbeat)
    celery.steps["worker"].add(endpoint.HttpEndpoint)
    return celery


@signals.worker_process_init.connect
def _fence_pool_child(**_: Any) -> None:
    fence.start()


@signals.worker_init.connect
def _fence_in_process_pools(sender: Any = None, **_: Any) -> None:
    # The solo and threads pools run tasks in the worker's own process.
    if sender is not None and sender.app.conf.worker_pool in ("solo", "threads"):
        fence.start()


@signals.worker_shutting_down.connect
def _stop_taking(**_: Any) -> None:
    # Sent from the signal handler as shutdown begins (celery/apps/worker.py,
    # _shutdown_handler), before a soft shutdown waits for running tasks: a message whose
    # fetch reply is unread would otherwise wait out that whole time, held by this worker.
    runtime = deliveries.current()
    if runtime is not None:
        runtime.stop()


@signals.worker_shutdown.connect
def _release(**_: Any) -> None:
    # Sent after the pool has stopped (celery/worker/worker.py, WorkController.stop): no task
    # runs any more, so whatever this worker still holds goes back to the queue.
    runtime = deliveries.current()
    if runtime is not None:
        runtime.shutdown()


app = create_app()
