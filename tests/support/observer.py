"""The Redis under test as the ledger sees it: records sampled while a test runs (they may only
move forward), and what is left once everything drained (the quiet final state)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import redis

from functions import keys, records
from functions.registry import DEFAULT_QUEUE

TERMINAL = ("succeeded", "failed")
# kombu's priority lists of a queue (kombu.transport.redis, Channel._q_for_pri).
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
# Order of the non-terminal statuses within one attempt.
_PHASE = {"queued": 0, "running": 1, "retrying": 2}


def progress(record: dict[str, Any]) -> tuple[int, int, int, int]:
    """A record's position in its life, which only grows: finished, attempts, history, phase.

    A requeue (lost worker, release, cancellation) puts a running record back to `queued` and
    notes why in its history; a new delivery counts an attempt."""
    status = record["status"]
    finished = status in TERMINAL
    return (
        int(finished),
        int(record["attempts"]),
        len(record["history"]),
        0 if finished else _PHASE.get(status, 3),
    )


def _final(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["status"], record["result"], record["error"], record["finished_at"])


@dataclass
class Residue:
    """What the Redis under test still holds once drained."""

    queued: int
    in_flight: int
    scheduled: int
    unfinished: list[str]

    @property
    def quiet(self) -> bool:
        return not (self.queued or self.in_flight or self.scheduled or self.unfinished)

    def __str__(self) -> str:
        return (
            f"queued={self.queued} in_flight={self.in_flight} scheduled={self.scheduled} "
            f"unfinished={self.unfinished[:5]}"
        )


def residue(broker: redis.Redis) -> Residue:
    """Queued, in-flight and scheduled messages and unfinished records of the default pool."""
    pipe = broker.pipeline(transaction=False)
    for suffix in _PRIORITY_SUFFIXES:
        pipe.llen(keys.queue_key("", DEFAULT_QUEUE) + suffix)
    pipe.hlen(keys.unacked_key(""))
    pipe.zcard(keys.scheduled_key(""))
    *lengths, in_flight, scheduled = pipe.execute()
    names = list(broker.scan_iter(match=keys.record_key("", "*"), count=1000))
    pipe = broker.pipeline(transaction=False)
    for name in names:
        pipe.hget(name, "status")
    unfinished = [
        name.decode().rsplit(":", 1)[1]
        for name, status in zip(names, pipe.execute(), strict=True)
        if status is not None and status.decode() not in TERMINAL
    ]
    return Residue(sum(lengths), int(in_flight), int(scheduled), unfinished)


class Observer:
    """Samples the records of known ids from the Redis under test, every `interval` seconds,
    on a thread of its own, and notes every record that moved backwards."""

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.interval = interval
        self.ids: set[str] = set()
        self.seen: dict[str, dict[str, Any]] = {}  # latest sample of each record
        self.regressed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ledger-observer", daemon=True)
        self._thread.start()

    def watch(self, invocation_id: str) -> None:
        with self._lock:
            self.ids.add(invocation_id)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            ids = sorted(self.ids)
        if not ids:
            return
        pipe = self.client.pipeline(transaction=False)
        for invocation_id in ids:
            pipe.hgetall(keys.record_key("", invocation_id))
        try:
            raws = pipe.execute()
        except (redis.RedisError, OSError):
            return  # Redis is down or frozen: nothing to see
        with self._lock:
            for invocation_id, raw in zip(ids, raws, strict=True):
                self._compare(invocation_id, records.decode(invocation_id, raw) if raw else None)

    def _compare(self, invocation_id: str, now: dict[str, Any] | None) -> None:
        before = self.seen.get(invocation_id)
        if now is None:
            if before is not None and before["status"] not in TERMINAL:
                self.regressed.append(f"{invocation_id}: vanished while {before['status']}")
                del self.seen[invocation_id]
            return  # not written yet, or expired after it finished (its TTL)
        if before is not None:
            if before["status"] in TERMINAL and _final(now) != _final(before):
                self.regressed.append(
                    f"{invocation_id}: finished {_final(before)}, then {_final(now)}"
                )
            elif progress(now) < progress(before):
                self.regressed.append(
                    f"{invocation_id}: {before['status']} {progress(before)} -> "
                    f"{now['status']} {progress(now)}"
                )
        self.seen[invocation_id] = now

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()
        self.client.close()


def residue_of(url: str | None) -> Residue:
    """The residue of the Redis at `url` (nothing to check without one)."""
    if not url:
        return Residue(0, 0, 0, [])
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
    try:
        return residue(client)
    finally:
        client.close()
