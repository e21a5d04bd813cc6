"""The one settings object: every knob Spillway reads from the environment.

`REDIS_URL` and `PORT` keep their conventional names (Knative injects `PORT`); everything else is
`SPILLWAY_*`. The README's configuration table lists each variable with its default.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from functions.errors import ConfigError


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the API and the worker, read from the environment once per process."""

    model_config = SettingsConfigDict(
        env_prefix="SPILLWAY_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    # --- shared ---------------------------------------------------------------------------
    REDIS_URL: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "SPILLWAY_REDIS_URL"),
        description="Broker, invocation records and results (redis:// or rediss://).",
    )
    KEY_PREFIX: str = Field(
        default="",
        description="Prefix for every Redis key (kombu global_keyprefix): separates whole "
        "deployments that share one Redis database. Pools of one deployment use POOL instead.",
    )
    FUNCTION_MODULES: Annotated[list[str], NoDecode] = Field(
        default=["functions.builtins"],
        description="Comma-separated modules whose @function definitions are registered.",
    )
    RESULT_TTL: int = Field(
        default=3600,
        gt=0,
        description="Seconds a finished invocation's record (and result) is kept. Sized with "
        "IDEMPOTENCY_TTL to fit the platform Redis's memory at about 40 invocations/s "
        "(docs/deploy.md, 'Memory budget').",
    )
    LOG_LEVEL: str = Field(default="INFO")

    # --- API ------------------------------------------------------------------------------
    HOST: str = Field(default="0.0.0.0", description="API bind address.")
    PORT: int = Field(
        default=8080,
        validation_alias=AliasChoices("PORT", "SPILLWAY_PORT"),
        description="API port; Knative injects PORT.",
    )
    API_METRICS_PORT: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="A port that serves only GET /metrics, for Prometheus (0: none; /metrics "
        "stays on PORT either way). Under Knative, scraping the app's port would let the "
        "monitoring namespace reach the whole API around queue-proxy.",
    )
    MAX_BODY_BYTES: int = Field(default=1_048_576, gt=0)
    MAX_BATCH: int = Field(default=1000, gt=0, le=10_000)
    MAX_WAIT: float = Field(default=30.0, ge=0, description="Upper bound for ?wait= in seconds.")
    MAX_BACKLOG: int = Field(
        default=10_000, gt=0, description="Default queued-invocation limit per queue (429 above)."
    )
    IDEMPOTENCY_TTL: int = Field(
        default=3600,
        gt=0,
        description="Seconds an Idempotency-Key is kept once its invocations finished.",
    )
    REDIS_TIMEOUT: float = Field(
        default=0.5, gt=0, description="API deadline for one Redis operation, seconds."
    )
    DURABLE_REPLICAS: int = Field(
        default=0,
        ge=0,
        description="Replicas that must acknowledge a submit (WAIT) before the API answers 202; "
        "short of them within DURABLE_TIMEOUT, 503 outcome-unknown. 0: no wait.",
    )
    DURABLE_FSYNC: bool = Field(
        default=False,
        description="Answer 202 only once the primary's AOF (and DURABLE_REPLICAS replicas') "
        "fsync'd the submit (WAITAOF: Redis 7.2+ with appendonly yes).",
    )
    DURABLE_TIMEOUT: float = Field(
        default=0.2,
        gt=0,
        description="Seconds a durable submit waits for its acknowledgment (Redis may answer up "
        "to 0.1 s late); at least 0.15 s below REDIS_TIMEOUT.",
    )
    RETRY_AFTER: int = Field(default=5, ge=1, description="Retry-After on 503 (Redis down).")
    BACKLOG_RETRY_AFTER: int = Field(default=2, ge=1, description="Retry-After on 429.")
    MEMORY_ADMISSION: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of Redis's memory budget above which new submits are refused (503 "
        "memory-pressure), leaving the rest for accepted work to finish; 1 turns it off.",
    )
    MEMORY_BUDGET: int = Field(
        default=0,
        ge=0,
        description="Bytes of Redis memory the admission share applies to; 0 takes Redis's "
        "maxmemory (with neither, admission is off).",
    )
    MEMORY_SAMPLE_INTERVAL: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="Seconds between the API's INFO memory samples (one per interval, taken "
        "by a submit or a readiness check).",
    )
    OPENTELEMETRY: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry spans and metrics for HTTP requests, sent "
        "to the providers the process configures. Off, FastAPI skips looking for a provider on "
        "every request; the Prometheus metrics are always on.",
    )

    # --- API keys, tenants and quotas (functions/api/auth.py, functions/apikeys/) ---------
    AUTH: Literal["required", "off"] = Field(
        default="required",
        description="`required`: every /v1 request needs `Authorization: Bearer <key>`; `off`: "
        "no keys, no tenants, no per-key quotas (`spillway dev`, tests).",
    )
    EVENTS_AUTH: Literal["key", "off"] = Field(
        default="key",
        description="`key`: POST /v1/events needs an API key like every /v1 route (with "
        "SPILLWAY_AUTH=required); `off`: events need none, for a Knative Broker, which sends "
        "no credentials, in front of a cluster-local API (docs/deploy.md, Knative Eventing).",
    )
    AUTH_CACHE: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Seconds the API holds a key it read (found or not): a revocation or "
        "rotation reaches every replica within this.",
    )
    KEYS_FILE: str = Field(
        default="",
        description="JSON file of key specs (a Kubernetes Secret mounted as a file) loaded "
        "into Redis at start, idempotently.",
    )
    KEY_RATE: float = Field(
        default=50.0, ge=0, description="Default invocations per second per key (0: no limit)."
    )
    KEY_BURST: int = Field(default=100, gt=0, description="Default burst per key.")
    TENANT_MAX_BACKLOG: int = Field(
        default=5000,
        ge=0,
        description="Default most unfinished invocations of one tenant (0: no limit).",
    )
    MAX_WAITS: int = Field(
        default=200, gt=0, description="Concurrent ?wait= requests one API process holds."
    )
    MAX_WAITS_PER_KEY: int = Field(
        default=20, gt=0, description="Concurrent ?wait= requests of one key in one API process."
    )
    BODY_TIMEOUT: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's whole body (408 after).",
    )

    # --- worker ---------------------------------------------------------------------------
    QUEUES: Annotated[list[str], NoDecode] = Field(
        default=[], description="Queues this worker consumes; empty means every registered queue."
    )
    QUEUE_ROUTES: Annotated[dict[str, str], NoDecode] = Field(
        default={},
        description="Comma-separated function=queue pairs that move functions to other queues "
        "(same value for the API and every worker).",
    )
    POOL: str = Field(
        default="",
        pattern=r"^[a-z0-9-]{0,40}$",
        description="Worker pool name: the pool's in-flight tasks go to its own `unacked:<pool>` "
        "hash, so one KEDA trigger per pool counts only that pool's work.",
    )
    WORKER_CONCURRENCY: int = Field(default=2, gt=0, description="Tasks one worker runs at once.")
    WORKER_POOL: str = Field(default="prefork")
    SOFT_SHUTDOWN_TIMEOUT: float = Field(
        default=25.0,
        ge=0,
        description="Seconds running tasks may finish after SIGTERM before they are requeued.",
    )
    LEASE_TTL: float = Field(
        default=10.0,
        ge=2,
        le=300,
        description="Seconds a worker's lease lasts without renewal (renewed every fifth of it). "
        "A lost worker's tasks run again within about this plus SWEEP_INTERVAL; a worker cut "
        "off from Redis stops its running tasks a second before it ends.",
    )
    SWEEP_INTERVAL: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="Seconds between sweeps (due retries back to the queue, expired leases "
        "reclaimed).",
    )
    MAX_LOST: int = Field(
        default=3,
        ge=1,
        description="Deliveries whose worker died running them, after which the invocation is "
        "failed as poison and dead-lettered instead of run again.",
    )
    UNKNOWN_TASK_HOLD: float = Field(
        default=900.0,
        gt=0,
        description="Seconds a message for a function no worker of the pool knows is held back "
        "(a rolling deploy) before it is dead-lettered.",
    )
    MAX_RESULT_BYTES: int = Field(
        default=262_144,
        gt=0,
        description="Largest result a function may return, as JSON; larger is a failure of the "
        "function (return a reference to object storage instead).",
    )
    DEAD_LETTER_MAX: int = Field(
        default=10_000, gt=0, description="Dead letters kept per queue (the oldest are shed)."
    )
    DEAD_LETTER_MAX_BYTES: int = Field(
        default=33_554_432,
        ge=65_536,
        description="Bytes of dead letters kept per queue (the oldest are shed; a message over "
        "half of it is stored cut short and cannot be replayed).",
    )
    WORKER_HTTP_PORT: int = Field(default=9102, description="Worker /healthz and /metrics port.")
    HEARTBEAT_INTERVAL: float = Field(default=2.0, gt=0)
    REMOTE_CONTROL: bool = Field(
        default=False,
        description="Celery remote control (`celery inspect`/`control`, pidbox): anyone who "
        "can write to Redis could shut every worker down with it, so it is off unless asked.",
    )
    HEARTBEAT_MAX_AGE: float = Field(
        default=30.0, gt=0, description="Worker probe fails when the consumer is silent this long."
    )

    # --- callbacks and completion events (the API checks URLs; `spillway sender` sends) ----
    CALLBACK_SECRET: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks signing secrets, `whsec_<base64>`, space- or "
        "comma-separated: every one signs each callback (rotation). The sender needs one.",
    )
    CALLBACK_ALLOW_NETWORKS: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Comma-separated CIDRs a callback may reach although they are private, "
        "loopback, link-local or otherwise not public (in-cluster receivers). API and sender.",
    )
    CALLBACK_DEADLINE: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds after the invocation finished within which a callback (or "
        "completion event) must be delivered; then it is dead-lettered (callback_failed).",
    )
    CALLBACK_TIMEOUT: float = Field(
        default=15.0, gt=0, le=120, description="Seconds one delivery attempt may take."
    )
    CALLBACK_BACKOFF: float = Field(
        default=1.0, gt=0, description="Seconds before the first retry; doubles each retry."
    )
    CALLBACK_BACKOFF_MAX: float = Field(
        default=300.0, gt=0, description="Longest wait between two attempts, seconds."
    )
    SENDER_CONCURRENCY: int = Field(
        default=16, gt=0, le=1000, description="Deliveries one sender makes at once."
    )
    SENDER_LEASE_TTL: float = Field(
        default=30.0,
        ge=2,
        le=600,
        description="Seconds a sender's lease lasts unrenewed; then what it took goes back to "
        "the outbox for another sender. Must exceed CALLBACK_TIMEOUT.",
    )
    SENDER_HTTP_PORT: int = Field(
        default=9103, description="Sender /healthz and /metrics port (0 turns it off)."
    )
    EVENTS_SINK: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SPILLWAY_EVENTS_SINK", "K_SINK"),
        description="Where completion CloudEvents go (binary mode); a Knative SinkBinding "
        "injects K_SINK. Unset: no completion events.",
    )
    EVENTS_CA_CERTS: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SPILLWAY_EVENTS_CA_CERTS", "K_CA_CERTS"),
        description="PEM certificates the events sink's TLS certificate may chain to, besides "
        "the system's; a SinkBinding injects K_CA_CERTS when the sink publishes them.",
    )
    CE_OVERRIDES: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SPILLWAY_CE_OVERRIDES", "K_CE_OVERRIDES"),
        description="Knative's K_CE_OVERRIDES: extensions added to every completion event.",
    )

    @field_validator("FUNCTION_MODULES", "QUEUES", "CALLBACK_ALLOW_NETWORKS", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("QUEUE_ROUTES", mode="before")
    @classmethod
    def _routes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        routes = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, sep, queue = item.partition("=")
            if not sep or not name.strip() or not queue.strip():
                raise ValueError(f"expected function=queue, got {item!r}")
            routes[name.strip()] = queue.strip()
        return routes

    @field_validator("CALLBACK_ALLOW_NETWORKS")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"expected CIDRs such as 10.0.0.0/8, got {item!r}") from None
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("EVENTS_SINK")
    @classmethod
    def _sink_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("the events sink (SPILLWAY_EVENTS_SINK, else K_SINK) must be http(s)")
        return value

    @model_validator(mode="after")
    def _sane_timeouts(self) -> Settings:
        # A live sender's deliveries must not be reclaimed while one attempt is still running.
        if self.SENDER_LEASE_TTL <= self.CALLBACK_TIMEOUT:
            raise ValueError("SPILLWAY_SENDER_LEASE_TTL must exceed SPILLWAY_CALLBACK_TIMEOUT")
        if self.HEARTBEAT_MAX_AGE <= self.HEARTBEAT_INTERVAL:
            raise ValueError("SPILLWAY_HEARTBEAT_MAX_AGE must exceed SPILLWAY_HEARTBEAT_INTERVAL")
        # Redis checks a WAIT's timeout between events, every 1/hz s (100 ms by default), so
        # the wait ends up to that much late (redis 7.0.15 src/timeout.c,
        # handleBlockedClientsTimeout, run before the event loop sleeps); the reply must still
        # come within the API's deadline.
        durable = self.DURABLE_REPLICAS > 0 or self.DURABLE_FSYNC
        if durable and self.DURABLE_TIMEOUT + 0.15 > self.REDIS_TIMEOUT:
            raise ValueError(
                "SPILLWAY_DURABLE_TIMEOUT must be at least 0.15 s below SPILLWAY_REDIS_TIMEOUT"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; ConfigError names the first variable that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def env_name(field: str) -> str:
    """The environment variable a Settings field is read from."""
    return field if field in ("REDIS_URL", "PORT") else f"SPILLWAY_{field}"


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if not first["loc"]:  # a check across several settings: its message names them
        return f"invalid settings: {first['msg']}"
    field = str(first["loc"][0]).removeprefix("SPILLWAY_")
    return f"invalid setting {env_name(field)}: {first['msg']}"


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"
