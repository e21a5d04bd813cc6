"""The sender's loop: take deliveries from the outbox, attempt each, settle it; sweep each second.

One asyncio process: a taker blocks on the outbox (BLMOVE) only while fewer than
SPILLWAY_SENDER_CONCURRENCY deliveries are in progress, each delivery is a task (so one slow
receiver never holds up the others), and a housekeeping task renews the lease, promotes due
retries and reclaims dead senders' work (outbox.py says where a delivery is at each moment).

Stopping (SIGTERM, SIGINT): no new takes; deliveries in progress finish (each is bounded by
SPILLWAY_CALLBACK_TIMEOUT) and whatever is still unsettled goes back to the outbox. A Redis
outage is waited out: settling is retried until Redis takes it (until then the item stays in
the processing list, where a reclaim finds it if this sender dies meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets as random_ids
import signal
import socket
import time

import httpx
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from functions.sender import metrics
from functions.sender.delivery import Deliverer, Item
from functions.sender.endpoint import serve
from functions.sender.errors import OutboxUnavailable
from functions.sender.events import extensions, trust
from functions.sender.guard import GuardedTransport
from functions.sender.outbox import Outbox, Settlement
from functions.sender.signing import Secrets
from functions.settings import Settings, redact_url
from functions.targets import Guard

log = logging.getLogger("spillway.sender")

SWEEP_INTERVAL = 1.0
TAKE_TIMEOUT = 1  # seconds BLMOVE blocks: how soon a stop is noticed while idle


def sender_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random_ids.token_hex(3)}"


class Sender:
    def __init__(self, settings: Settings, redis: aioredis.Redis, deliverer: Deliverer) -> None:
        self.settings = settings
        self.redis = redis
        self.deliverer = deliverer
        self.id = sender_id()
        self.outbox = Outbox(
            redis,
            settings.KEY_PREFIX,
            self.id,
            lease_ttl=settings.SENDER_LEASE_TTL,
            record_ttl=settings.RESULT_TTL,
            dead_letter_max=settings.DEAD_LETTER_MAX,
            dead_letter_max_bytes=settings.DEAD_LETTER_MAX_BYTES,
        )
        self.stopping = asyncio.Event()
        self.last_sweep = time.monotonic()
        self._slots = asyncio.Semaphore(settings.SENDER_CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Tell the workers about events and take the lease; OutboxUnavailable if Redis cannot."""
        try:
            await self.outbox.announce_events(bool(self.settings.EVENTS_SINK))
            await self.outbox.sweep()  # the lease, before anything is taken
        except RedisError as exc:
            raise OutboxUnavailable(
                f"cannot use the outbox at {redact_url(self.settings.REDIS_URL)} (REDIS_URL): {exc}"
            ) from None

    async def run(self) -> None:
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            await self._take_loop()
        finally:
            housekeeping.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.settings.CALLBACK_TIMEOUT + 5)
            try:
                given_back = await self.outbox.release()
                if given_back:
                    log.info("gave %d unsettled deliveries back to the outbox", given_back)
            except RedisError as exc:
                log.warning("could not give deliveries back (a reclaim will): %s", exc)

    async def _take_loop(self) -> None:
        while not self.stopping.is_set():
            await self._slots.acquire()
            if self.stopping.is_set():
                self._slots.release()
                return
            try:
                raw = await self.outbox.take(TAKE_TIMEOUT)
            except RedisError as exc:
                self._slots.release()
                log.warning("cannot take from the outbox: %s", exc)
                await self._pause(1.0)
                continue
            if raw is None:
                self._slots.release()
                continue
            task = asyncio.create_task(self._deliver(raw))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, raw: str) -> None:
        try:
            settlement = await self._attempt(raw)
            await self._settle(raw, settlement)
        finally:
            self._slots.release()

    async def _attempt(self, raw: str) -> Settlement:
        try:
            item = Item.parse(raw)
        except (ValueError, TypeError) as exc:
            return Settlement("failed", 1, error=f"unreadable outbox item: {exc}")
        started = time.monotonic()
        try:
            settlement = await self.deliverer.attempt(item)
        except Exception as exc:  # a bug: keep the delivery, retry it later
            log.exception("delivery %s raised", item.id)
            settlement = self.deliverer.retry_or_fail(
                item, item.attempts + 1, None, f"{type(exc).__name__}: {exc}", time.time(), 0
            )
        metrics.SECONDS.labels(item.kind).observe(time.monotonic() - started)
        metrics.ATTEMPTS.labels(item.kind, settlement.outcome).inc()
        if settlement.outcome != "delivered":
            log.info(
                "%s %s for %s: %s (%s)",
                item.kind,
                item.id,
                item.invocation,
                settlement.outcome,
                settlement.error,
            )
        return settlement

    async def _settle(self, raw: str, settlement: Settlement) -> None:
        delay = 0.1
        while True:
            try:
                if not await self.outbox.settle(raw, settlement, time.time()):
                    log.info("a delivery was reclaimed while in progress; its copy owns it now")
                return
            except RedisError as exc:
                if self.stopping.is_set():
                    log.warning("could not settle a delivery before stopping: %s", exc)
                    return  # still in the processing list: release or a reclaim puts it back
                log.warning("cannot settle a delivery yet: %s", exc)
                await self._pause(delay)
                delay = min(delay * 2, 2.0)

    async def _housekeeping(self) -> None:
        while True:
            try:
                _promoted, reclaimed = await self.outbox.sweep()
                self.last_sweep = time.monotonic()
                if reclaimed:
                    metrics.RECLAIMED.inc(reclaimed)
                    log.warning("reclaimed %d deliveries of senders whose lease expired", reclaimed)
            except RedisError as exc:
                log.warning("sweep failed: %s", exc)
            await asyncio.sleep(SWEEP_INTERVAL)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass


def clients(settings: Settings) -> tuple[httpx.AsyncClient, httpx.AsyncClient | None]:
    """The callbacks' client (through the SSRF guard) and the events sink's (not guarded: the
    operator chose it, and it is usually in the cluster)."""
    timeout = httpx.Timeout(settings.CALLBACK_TIMEOUT)
    guard = Guard(settings.CALLBACK_ALLOW_NETWORKS)
    transport = GuardedTransport(guard, max_connections=settings.SENDER_CONCURRENCY)
    callbacks = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
    events = None
    if settings.EVENTS_SINK:
        events = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            verify=trust(settings.EVENTS_CA_CERTS),
        )
    return callbacks, events


async def main(settings: Settings) -> None:
    """Run a sender until SIGTERM or SIGINT. ConfigError before anything starts."""
    secrets = Secrets(settings)
    extensions(settings.CE_OVERRIDES)  # refuse a malformed one now, not per event
    redis = aioredis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=max(5.0, TAKE_TIMEOUT + 4), health_check_interval=30
    )
    callbacks, events = clients(settings)
    sender = Sender(settings, redis, Deliverer(settings, secrets, callbacks, events))
    try:
        await sender.start()
    except OutboxUnavailable:
        await asyncio.gather(callbacks.aclose(), redis.aclose())
        if events is not None:
            await events.aclose()
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sender.stopping.set)
    server = None
    if settings.SENDER_HTTP_PORT:
        server = await serve(
            settings.SENDER_HTTP_PORT, lambda: sender.last_sweep, settings.SENDER_LEASE_TTL
        )
    log.info(
        "sender %s on %s: %d at once, events %s",
        sender.id,
        redact_url(settings.REDIS_URL),
        settings.SENDER_CONCURRENCY,
        "to the sink" if settings.EVENTS_SINK else "off",
    )
    try:
        await sender.run()
    finally:
        if server is not None:
            server.close()
        await callbacks.aclose()
        if events is not None:
            await events.aclose()
        await redis.aclose()
