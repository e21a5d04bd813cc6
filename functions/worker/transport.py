"""kombu's Redis transport, taking task messages with functions/worker/lua/fetch.lua.

kombu BRPOPs a message and records it in `unacked` in a second round trip (kombu 5.7
`transport/redis.py`: `Channel._brpop_read`, then `QoS.append`); a worker killed, a reply lost or
Redis failing between the two loses the message. Blocking commands may not run inside a script,
so the channel alternates two commands on its connection, both sent asynchronously and read by
kombu's event loop like its BRPOP:
  fetch   EVALSHA fetch.lua: take the next message and record it in flight, atomically;
  peek    when every queue was empty, `BLMOVE q q RIGHT RIGHT timeout`: blocks until q has a
          message and moves its last element to where it was (nothing is taken), then fetch.
With several queues the peek takes them in turn, for a shorter timeout each.

Acks and rejects settle the delivery with settle.lua, and the periodic restore runs sweep.lua
(due retries, expired leases) instead of kombu's visibility-timeout scan. Queues that are not
Spillway task queues (Celery's pidbox and reply queues) keep kombu's own path.
"""

from __future__ import annotations

import logging
import time
from queue import Empty
from typing import Any

from celery.worker import state
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis.exceptions import NoScriptError, ResponseError

from functions.worker import deliveries
from functions.worker.inflight import source

log = logging.getLogger("spillway.worker")

# kombu's classes, typed loosely: the stubs in celery-types leave out the internals we override.
_RedisQoS: Any = kombu_redis.QoS
_RedisChannel: Any = kombu_redis.Channel
_RedisTransport: Any = kombu_redis.Transport
_VirtualQoS: Any = virtual.QoS

# Seconds one peek may block when a worker consumes several queues (one queue: kombu's
# brpop_timeout, 1 s). A message on another queue waits at most this long per queue.
MULTI_QUEUE_PEEK = 0.2
# Seconds between fetches while the lease is being taken again.
LEASE_RETRY = 0.2


class QoS(_RedisQoS):  # type: ignore[misc]
    def append(self, message: Any, delivery_tag: str) -> None:
        # fetch.lua recorded it in Redis already; keep kombu's local bookkeeping only.
        _VirtualQoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        runtime = deliveries.current()
        if runtime is None:
            super().ack(delivery_tag)
            return
        runtime.settle(delivery_tag, "ack", "acked")
        _VirtualQoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        runtime = deliveries.current()
        if runtime is None:
            super().reject(delivery_tag, requeue)
            return
        runtime.settle(delivery_tag, "requeue" if requeue else "ack", "rejected")
        _VirtualQoS.ack(self, delivery_tag)

    def restore_unacked(self, client: Any = None) -> None:
        # The channel is closing: on shutdown after the pool stopped, or on a lost connection.
        # At shutdown, put back what is not running. On a lost connection, put back nothing:
        # tasks keep running (functions/worker/app.py) and settle their deliveries when they
        # end, and a job in a pool child's pipe runs though Celery counts it neither reserved
        # nor active; what nothing will run is put back by Deliveries.release_orphans.
        runtime = deliveries.current()
        if runtime is None:
            super().restore_unacked(client)
            return
        self._flush()
        if runtime.stopping:
            running = {request.message.delivery_tag for request in tuple(state.active_requests)}
            runtime.release(tag for tag in list(self._delivered) if tag not in running)
        self._delivered.clear()

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        runtime = deliveries.current()
        if runtime is None:
            super().restore_visible(start, num, interval)
            return
        runtime.sweep()


class Channel(_RedisChannel):  # type: ignore[misc]
    QoS = QoS
    _spillway_sent: str = ""  # "fetch" or "peek" while our command is outstanding
    _spillway_sha: str = ""
    _spillway_not_before = 0.0
    _spillway_peek_keys: list[str] = []
    _spillway_peek_index = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runtime = deliveries.current()
        if runtime is not None:
            # A new connection (after a reconnect, maybe to a Redis restarted from older data):
            # check what the lease holds before the next fetch (Deliveries.reconcile).
            runtime.recheck = True

    def _brpop_start(self, timeout: float | None = None) -> None:
        runtime = deliveries.current()
        if runtime is None or not runtime.owns(self.active_queues):
            super()._brpop_start(timeout)
            return
        if runtime.stopping or time.monotonic() < self._spillway_not_before:
            return
        worker = runtime.worker()
        if runtime.recheck:
            runtime.reconcile()
        if runtime.recheck or not runtime.fence_holds():
            self._spillway_not_before = time.monotonic() + LEASE_RETRY
            return
        queues = self._queue_cycle.consume(len(self.active_queues))
        keys, args = runtime.inflight.fetch_args(
            worker, runtime.queue_keys(queues), runtime.settings.MAX_LOST
        )
        # The keys carry SPILLWAY_KEY_PREFIX already: sent as they are, not through kombu's
        # prefixing client.
        self._spillway_peek_keys = runtime.queue_keys(queues)[: len(queues)]
        if not self._spillway_sha:
            self._spillway_sha = runtime.inflight.redis.script_load(source("fetch"))
        self._send("fetch", "EVALSHA", self._spillway_sha, len(keys), *keys, *args)
        runtime.recheck = True  # until its reply is read

    def _send(self, kind: str, *command: Any) -> None:
        connection = self.client.connection
        self._in_poll = connection
        self._brpop_sent_at = time.monotonic()
        self._spillway_sent = kind
        connection.send_command(*command)

    def _brpop_read(self, **options: Any) -> bool:
        sent = self._spillway_sent
        if not sent:
            return bool(super()._brpop_read(**options))
        connection = self.client.connection
        self._spillway_sent = ""
        runtime = deliveries.current()
        assert runtime is not None
        try:
            reply = self.client.parse_response(
                connection, "EVALSHA" if sent == "fetch" else "BLMOVE", **options
            )
        except self.connection_errors:
            # A fetch's reply is lost with the connection, maybe after the script took a
            # message, and Redis may come back with other data: reconcile before fetching.
            runtime.recheck = True
            connection.disconnect()
            self._in_poll = None
            raise
        except ResponseError as exc:
            runtime.recheck = False  # answered: the script did not run
            self._in_poll = None
            if isinstance(exc, NoScriptError):
                # Redis restarted without its script cache: load it again on the next fetch.
                self._spillway_sha = ""
            else:
                # Refused by Redis (a script error, an ACL): try again shortly, don't spin.
                log.warning("fetch refused by Redis: %s", exc)
                self._spillway_not_before = time.monotonic() + 1.0
            raise Empty() from None
        runtime.recheck = False
        if sent == "peek" or not reply:
            if sent == "fetch":
                self._peek()
            else:
                self._in_poll = None
                if reply and runtime.yielding():
                    self._spillway_not_before = time.monotonic() + deliveries.YIELD_DELAY
            raise Empty()
        self._in_poll = None
        delivery = runtime.on_fetched(reply)
        if delivery is None:
            if reply and reply[0] in (b"lease", "lease"):
                self._spillway_not_before = time.monotonic() + LEASE_RETRY
            raise Empty()
        message, queue = delivery
        self._queue_cycle.rotate(queue)
        self.connection._deliver(message, queue)
        return True

    def _peek(self) -> None:
        keys = self._spillway_peek_keys
        key = keys[self._spillway_peek_index % len(keys)]
        self._spillway_peek_index += 1
        timeout = self.brpop_timeout if len(keys) == 1 else MULTI_QUEUE_PEEK
        self._send("peek", "BLMOVE", key, key, "RIGHT", "RIGHT", timeout)


class Transport(_RedisTransport):  # type: ignore[misc]
    Channel = Channel
