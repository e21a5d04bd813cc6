"""The dead-letter store: one implementation behind the API and `spillway dlq`.

Every operation is a Lua script over the layout functions/worker/lua/_lib.lua documents, run
through whatever async Redis the front end has (`ScriptRunner`): the API's own RESP client under
its deadline, or redis-py's asyncio client in the CLI.

Ids. A dead letter's id is its invocation id when the message named one (so the record's
`dead_letter` field, "<queue>/<id>", and GET /v1/invocations/{id} lead to it), else a random one.
Ids are unique in practice, so the queue need not be named; naming it narrows the lookup.

Replay reuses the invocation id: a new attempt of the same invocation, not a new one. The
producer already holds that id (its status URL, its Idempotency-Key, later its callbacks); a new
id would orphan all of them. The record keeps the whole story: attempts keep counting and its
history gains a `replayed` event with the error it had (lua/replay.lua).

Cursors are opaque to callers: the position (queue, score, id) of the last entry a page examined,
base64url-encoded. A position, not an offset, so entries replayed or deleted between pages do not
shift what comes next.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

from pydantic import ValidationError

from functions.deadletters.errors import (
    Ambiguous,
    InvalidCursor,
    InvalidPayload,
    NotFound,
    NotReplayable,
)
from functions.protocol import MessageBuilder
from functions.records import iso_time
from functions.registry import Registry

REASONS = (
    "retries_exhausted",
    "poison",
    "malformed",
    "unknown_task",
    "expired",
    "callback_failed",
    "event_undeliverable",
)
# Entries one listing call examines at most (each a small summary decoded in Redis).
SCAN_BUDGET = 1000
# Entries one replay or delete call handles: bulk operations loop in steps of this size, so Redis
# is never held for long and each step fits the API's deadline for one round trip.
STEP = 100
MAX_PAGE = 200
MAX_BULK = 10_000

# Why an entry cannot be replayed (the codes lua/replay.lua answers), for people.
WHY_NOT = {
    "missing": "it is gone (replayed, deleted or shed meanwhile)",
    "no_invocation": "it names no invocation (a message that could not be read); delete it",
    "truncated": "its message was cut short to fit the store; replay it with a payload",
    "needs_payload": "its message would be refused again as it is; replay it with a payload",
    "record_expired": "its invocation record expired (SPILLWAY_RESULT_TTL); submit it anew",
    "not_failed": "its invocation is not failed any more",
    "elsewhere": "its invocation's record points at another dead letter",
    "unknown_function": "its function is not registered here",
    "delivery_payload": "it is an undelivered callback or event: it is sent again as it was, "
    "without a payload",
}


@dataclass(frozen=True, slots=True)
class Lua:
    """One of the store's scripts, with the worker's shared library in front of it."""

    name: str
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()  # EVALSHA names scripts by SHA1


@cache
def script(name: str) -> Lua:
    library = resources.files("functions.worker") / "lua" / "_lib.lua"
    own = resources.files("functions.deadletters") / "lua" / f"{name}.lua"
    return Lua(name, library.read_text() + "\n" + own.read_text())


class ScriptRunner(Protocol):
    """Runs a script (EVALSHA, then EVAL if Redis does not have it) and returns its reply."""

    async def run(self, script: Lua, args: Sequence[str | int | float]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Filters:
    queue: str | None = None
    function: str | None = None
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.queue or self.function or self.reason)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(slots=True)
class BulkReplay:
    replayed: list[str] = field(default_factory=list)  # the invocation ids now queued again
    skipped: dict[str, int] = field(default_factory=dict)  # why-not code -> entries
    more: bool = False  # the limit was reached before the end of the matching entries


@dataclass(slots=True)
class Purge:
    deleted: int = 0
    more: bool = False


@dataclass(frozen=True, slots=True)
class Stats:
    held: dict[tuple[str, str, str], int]  # (queue, function, reason) -> entries held
    bytes: dict[str, int]  # queue -> bytes held
    totals: dict[tuple[str, str], int]  # (queue, reason) -> messages ever dead-lettered
    shed: dict[str, int]  # queue -> entries shed


def encode_cursor(queue: str, score: str, entry_id: str) -> str:
    raw = json.dumps([queue, score, entry_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        queue, score, entry_id = json.loads(raw)
        float(score)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursor("the cursor is not one this store handed out") from None
    if not all(isinstance(part, str) for part in (queue, score, entry_id)):
        raise InvalidCursor("the cursor is not one this store handed out")
    return queue, score, entry_id


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def summary(raw: Any) -> dict[str, Any]:
    """A listing item: the summary the store keeps beside each entry, in a stable shape."""
    info = json.loads(_text(raw))
    error = info.get("error") if isinstance(info.get("error"), dict) else {}
    return {
        "id": info.get("id"),
        "invocation_id": info.get("invocation_id"),
        "function": info.get("function"),
        "queue": info.get("queue"),
        "reason": info.get("reason"),
        "error": {"type": error.get("type"), "message": error.get("message")},
        "attempts": int(info.get("attempts") or 0),
        "first_failed_at": iso_time(info.get("first_failed_at")),
        "last_failed_at": iso_time(info.get("last_failed_at")),
    }


def entry(raw: Any) -> dict[str, Any]:
    """A whole entry, in a stable shape: the summary plus the message, where it failed last and
    the traceback."""
    info = json.loads(_text(raw))
    whole = summary(raw)
    error = info.get("error") if isinstance(info.get("error"), dict) else {}
    whole["error"]["traceback"] = error.get("traceback") or None
    whole.update(
        message=info.get("message", ""),
        tenant=info.get("tenant"),
        worker=info.get("worker"),
        truncated=bool(info.get("truncated")),
        message_bytes=info.get("message_bytes"),
    )
    return whole


class DeadLetters:
    """The store of one deployment (SPILLWAY_KEY_PREFIX); every queue of every pool."""

    def __init__(self, redis: ScriptRunner, prefix: str, *, actor: str = "api") -> None:
        self.redis = redis
        self.prefix = prefix
        self.actor = actor  # who replays and deletes, for the records' history

    async def list(self, filters: Filters, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Up to `limit` entries, newest first per queue (queues in name order). A page may be
        short (even empty) and still have a next cursor: each call examines a bounded number."""
        position = decode_cursor(cursor) if cursor else ("", "", "")
        if cursor and filters.queue and position[0] != filters.queue:
            raise InvalidCursor("the cursor belongs to a listing of another queue")
        items, queue, score, entry_id = await self.redis.run(
            script("list"),
            [
                self.prefix,
                filters.queue or "",
                filters.function or "",
                filters.reason or "",
                limit,
                SCAN_BUDGET,
                *position,
            ],
        )
        next_cursor = encode_cursor(_text(queue), _text(score), _text(entry_id)) if queue else None
        return Page([summary(raw) for raw in items], next_cursor)

    async def get(self, entry_id: str, queue: str | None = None) -> dict[str, Any]:
        """The whole entry, message and traceback included."""
        found = await self.redis.run(script("find"), [self.prefix, queue or "", entry_id])
        if not found:
            where = f" in queue {queue!r}" if queue else ""
            raise NotFound(f"no dead letter {entry_id!r}{where}")
        if len(found) > 2:
            queues = sorted(_text(q) for q in found[::2])
            raise Ambiguous(
                f"dead letter {entry_id!r} is in queues {', '.join(queues)}: name one", queues
            )
        return entry(found[1])

    async def replay(
        self,
        entry_id: str,
        queue: str | None = None,
        *,
        payload: Any = None,
        registry: Registry | None = None,
    ) -> str:
        """Replay one entry, with its original message or with `payload` (validated against the
        function's input model in `registry`); returns the invocation id it runs as."""
        entry = await self.get(entry_id, queue)
        invocation_id = entry.get("invocation_id")
        if not isinstance(invocation_id, str):
            raise NotReplayable(_why(entry_id, "no_invocation"), "no_invocation")
        replacement = ""
        if payload is not None:
            replacement = self._message(entry, invocation_id, payload, registry)
        (code,) = await self.redis.run(
            script("replay"),
            [self.prefix, f"{time.time():.6f}", self.actor, entry["queue"], entry_id, replacement],
        )
        code = _text(code)
        if code != "replayed":
            raise NotReplayable(_why(entry_id, code), code.partition(":")[0])
        return invocation_id

    def _message(
        self, entry: dict[str, Any], invocation_id: str, payload: Any, registry: Registry | None
    ) -> str:
        spec = registry.get(entry.get("function") or "") if registry else None
        if spec is None:
            raise NotReplayable(
                f"cannot replay {entry['id']!r} with a payload: function "
                f"{entry.get('function')!r} is not registered here",
                "unknown_function",
            )
        try:
            model = spec.input_model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidPayload(
                f"invalid payload for {spec.name!r}",
                [
                    {
                        "path": "/payload/" + "/".join(str(p) for p in err["loc"]),
                        "message": err["msg"],
                        "type": err["type"],
                    }
                    for err in exc.errors(include_input=False, include_url=False)
                ],
            ) from None
        return MessageBuilder(spec, entry["queue"]).build(invocation_id, model.model_dump_json())

    async def replay_matching(self, filters: Filters, *, limit: int = 1000) -> BulkReplay:
        """Replay every matching entry, up to `limit`, in steps; entries that cannot be replayed
        are counted by why not. Safe to repeat: replayed entries leave the store."""
        result = BulkReplay()
        cursor: str | None = None
        seen = 0
        while True:
            page = await self.list(filters, limit=min(STEP, limit - seen), cursor=cursor)
            seen += len(page.items)
            if page.items:
                args: list[str] = []
                for item in page.items:
                    args += [item["queue"], item["id"], ""]
                codes = await self.redis.run(
                    script("replay"), [self.prefix, f"{time.time():.6f}", self.actor, *args]
                )
                for item, raw in zip(page.items, codes, strict=True):
                    code = _text(raw).partition(":")[0]
                    if code == "replayed":
                        result.replayed.append(item["invocation_id"])
                    else:
                        result.skipped[code] = result.skipped.get(code, 0) + 1
            cursor = page.next_cursor
            if cursor is None:
                return result
            if seen >= limit:
                result.more = True
                return result

    async def delete(self, entry_id: str, queue: str | None = None) -> None:
        entry = await self.get(entry_id, queue)
        deleted = await self.redis.run(
            script("delete"),
            [self.prefix, f"{time.time():.6f}", self.actor, entry["queue"], entry_id],
        )
        if not int(deleted):
            raise NotFound(f"no dead letter {entry_id!r} (deleted meanwhile)")

    async def purge(self, filters: Filters, *, limit: int = MAX_BULK) -> Purge:
        """Delete every matching entry, up to `limit`, in steps."""
        result = Purge()
        cursor: str | None = None
        while True:
            page = await self.list(filters, limit=min(STEP, limit - result.deleted), cursor=cursor)
            if page.items:
                args: list[str] = []
                for item in page.items:
                    args += [item["queue"], item["id"]]
                result.deleted += int(
                    await self.redis.run(
                        script("delete"), [self.prefix, f"{time.time():.6f}", self.actor, *args]
                    )
                )
            cursor = page.next_cursor
            if cursor is None:
                return result
            if result.deleted >= limit:
                result.more = True
                return result

    async def file(
        self,
        queue: str,
        entry_id: str,
        message: str,
        fields: dict[str, Any],
        *,
        max_entries: int,
        max_bytes: int,
        record_ttl: int,
    ) -> str:
        """File an entry from outside the worker (Knative's dead-letter sink): `fields` holds
        its reason, function and error; filing an id again replaces that entry. Returns the
        queue it is in."""
        queue_filed = await self.redis.run(
            script("file"),
            [
                self.prefix,
                f"{time.time():.6f}",
                queue,
                entry_id,
                json.dumps({k: v for k, v in fields.items() if v is not None}),
                message,
                max_entries,
                max_bytes,
                record_ttl,
            ],
        )
        return _text(queue_filed)

    async def stats(self) -> Stats:
        queues, totals, shed = await self.redis.run(script("stats"), [self.prefix])
        held: dict[tuple[str, str, str], int] = {}
        held_bytes: dict[str, int] = {}
        for queue_raw, bytes_raw, counts in queues:
            queue = _text(queue_raw)
            held_bytes[queue] = int(bytes_raw)
            for key, count in _pairs(counts).items():
                function, _, reason = key.partition("\t")
                held[(queue, function, reason)] = int(count)
        total_counts: dict[tuple[str, str], int] = {}
        for key, count in _pairs(totals).items():
            queue, _, reason = key.partition("\t")
            total_counts[(queue, reason)] = int(count)
        return Stats(held, held_bytes, total_counts, {q: int(n) for q, n in _pairs(shed).items()})


def _why(entry_id: str, code: str) -> str:
    kind, _, detail = code.partition(":")
    text = WHY_NOT.get(kind, kind)
    if kind == "not_failed" and detail:
        text = f"its invocation is {detail}, not failed"
    elif kind == "elsewhere" and detail:
        text = f"its invocation's record points at dead letter {detail}"
    return f"cannot replay dead letter {entry_id!r}: {text}"
