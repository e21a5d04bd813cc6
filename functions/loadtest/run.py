"""One load-test run, start to finish: preflight, send, sample, drain, then write the folder."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

from functions.loadtest import output, payload
from functions.loadtest.config import LoadConfig, key_headers
from functions.loadtest.drain import Drain
from functions.loadtest.errors import LoadError
from functions.loadtest.producer import Producer, ProducerConfig
from functions.loadtest.profiles import arrivals
from functions.loadtest.progress import Display
from functions.loadtest.records import Clock
from functions.loadtest.sampler import Sampler
from functions.loadtest.sources import ApiMetricsSource, KubeSource, RedisSource, Source
from functions.loadtest.summary import DevScaler, RunDescription, RunFacts, Summary


def preflight(config: LoadConfig) -> str:
    """The function's queue from the API's catalog, which also proves the URL and the name are
    right; and the payload checked against the function's input schema."""
    try:
        response = httpx.get(f"{config.url}/v1/functions", headers=key_headers(), timeout=10)
        response.raise_for_status()
        catalog = response.json()["functions"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise LoadError(
            f"cannot read the function catalog at {config.url}/v1/functions: {exc}"
        ) from None
    functions = {f["name"]: f for f in catalog}
    if config.function not in functions:
        known = ", ".join(sorted(functions)) or "none"
        raise LoadError(f"no function named {config.function!r} at {config.url} (it has: {known})")
    function = functions[config.function]
    if isinstance(function.get("input_schema"), dict):
        payload.check(config.function, function["input_schema"], config.payload)
    return config.queue or str(function["queue"])


NO_REDIS_URL = (
    "no --redis-url (and no REDIS_URL): queue depth, in-flight and spillway dev's replicas "
    "were not sampled; pass the Redis the system uses (spillway dev prints it)"
)


def _sources(config: LoadConfig, queue: str) -> tuple[list[Source], list[str]]:
    sources: list[Source] = []
    notes: list[str] = []
    if not config.redis_url:
        notes.append(NO_REDIS_URL)
    if config.kube_deployment is not None:
        sources.append(KubeSource(*config.kube_deployment))  # KubeUnavailable: a LoadError
    if config.redis_url:
        try:
            redis.Redis.from_url(config.redis_url, socket_connect_timeout=1).ping()
        except (redis.RedisError, OSError, ValueError) as exc:
            notes.append(f"Redis at --redis-url not reachable ({exc}): no queue or in-flight data")
        else:
            replicas = config.kube_deployment is None
            sources.append(
                RedisSource(config.redis_url, config.key_prefix, queue, replicas, config.pool)
            )
    sources.append(ApiMetricsSource(config.url, config.function, queue))
    return sources, notes


async def _tick(
    display: Display, name: str, count: Callable[[], int], sampler: Sampler, until: Awaitable[None]
) -> None:
    task = asyncio.ensure_future(until)
    while not task.done():
        display.update(name, count(), sampler.latest())
        await asyncio.wait({task}, timeout=0.2)
    display.update(name, count(), sampler.latest())
    await task


def _producer_config(config: LoadConfig, run_id: str) -> ProducerConfig:
    return ProducerConfig(
        url=config.url,
        function=config.function,
        payload=config.payload,
        run_id=run_id,
        batch=config.batch,
        max_in_flight=config.max_in_flight,
        timeout=config.timeout,
        retries=config.retries,
        max_retry_wait=config.max_retry_wait,
    )


async def _phases(
    config: LoadConfig, producer: Producer, sampler: Sampler, display: Display, clock: Clock
) -> None:
    """Send every arrival, wait for the accepted ones to finish, then optionally keep sampling."""
    count = len(producer.arrivals)
    span = producer.arrivals[-1].scheduled_t if count else 0.0
    display.phase("sending", count, f"sending {count} invocations over {span:.1f} s")
    async with producer.client() as client:
        await _tick(display, "sending", lambda: producer.answered, sampler, producer.run(client))
        drain = Drain(producer.arrivals, clock, config.drain_timeout, config.poll_concurrency)
        display.phase("draining", drain.total, f"waiting for {drain.total} invocations to finish")
        await _tick(display, "draining", lambda: drain.finished, sampler, drain.run(client))
    if config.settle > 0:
        display.phase("settling", round(config.settle), f"sampling {config.settle:g} s more")
        start = clock.now()
        await _tick(
            display,
            "settling",
            lambda: round(clock.now() - start),
            sampler,
            asyncio.sleep(config.settle),
        )


def execute(
    config: LoadConfig,
    times: list[float] | None = None,
    warn: Callable[[str], None] = lambda note: None,
) -> Summary:
    """Run the load test; `times` is the profile's schedule when the caller already built it.
    `warn` gets each note on what will not be sampled, once the API has answered and before
    anything is sent (the summary's warnings repeat them)."""
    if times is None:
        times = arrivals(config.profile)
    queue = preflight(config)
    sources, notes = _sources(config, queue)
    for note in notes:
        warn(note)
    config.out.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    run_id = f"load-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    producer = Producer(_producer_config(config, run_id), times, clock)
    sampler = Sampler(sources, clock, config.sample_interval)
    with sampler, Display(config.progress) as display:
        asyncio.run(_phases(config, producer, sampler, display, clock))
    dev_scaler = _dev_scaler(sources)
    facts = RunFacts(
        config=_describe(config, run_id, clock),
        pod_target=config.pod_target,
        max_in_flight=config.max_in_flight,
        peak_in_flight_requests=producer.peak_in_flight,
        slot_waits=producer.slot_waits,
        max_send_delay_s=producer.max_send_delay,
        replicas_source=_replicas_source(config, dev_scaler),
        redis_sampled=any(isinstance(s, RedisSource) for s in sources),
        dev_scaler=dev_scaler,
        sampler_errors=sampler.errors(),
        notes=notes,
    )
    return output.write_run(
        config, producer.arrivals, producer.requests, sampler.samples, facts, times
    )


def _dev_scaler(sources: list[Source]) -> DevScaler | None:
    for source in sources:
        if isinstance(source, RedisSource) and source.scaler is not None:
            scaler = source.scaler
            return {
                "fast": bool(scaler.get("fast")),
                "fast_factor": scaler["fast_factor"],  # the scaler always publishes it
                "max": scaler.get("max"),
            }
    return None


def _replicas_source(config: LoadConfig, scaler: DevScaler | None) -> str | None:
    if config.kube_deployment is not None:
        return "kubernetes:" + "/".join(config.kube_deployment)
    if scaler is not None:
        return "spillway dev (local scaler" + (", --fast)" if scaler["fast"] else ")")
    return None


def _describe(config: LoadConfig, run_id: str, clock: Clock) -> RunDescription:
    profile = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config.profile).items()}
    return {
        "id": run_id,
        "url": config.url,
        "function": config.function,
        "payload": config.payload,
        "profile": profile,
        "batch": config.batch,
        "started_at": datetime.fromtimestamp(clock.wall_start, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "duration_s": clock.now(),
        "drain_timeout_s": config.drain_timeout,
        "settle_s": config.settle,
    }
