"""Enqueueing CloudEvents: one invocation per event, at most once per (source, id).

CloudEvents makes `source` + `id` unique per distinct event and lets a consumer treat a repeat
of the pair as a duplicate (spec v1.0.2, cloudevents/spec.md, "id"); Knative Eventing
redelivers on a lost or failed answer. So the pair is the event's Idempotency-Key, kept with
the same mechanism as a direct submit's (functions/api/submit.py): a hash per key holding the
invocation id, its `pending` count and TTL, released by the worker's finish script
(functions/worker/lua/_lib.lua, release_idempotency) once the invocation ends, then kept
`SPILLWAY_IDEMPOTENCY_TTL` seconds. A redelivery within that answers the first id and enqueues
nothing, whatever its data: the pair, not the body, names the event.

One script takes a whole request (one event, or a batch whose events may go to several
functions and queues), so a batch is all-or-nothing: every backlog is checked before anything
is written. Each record also keeps the event's attributes (`event`), shown by
GET /v1/invocations/{id}.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from functions import keys
from functions.api.resp import Script
from functions.api.submit import BacklogFull, OutcomeUnknown, Submitter
from functions.protocol import MessageBuilder, new_id
from functions.registry import FunctionSpec

# KEYS: four per event: its queue list, its idempotency key, its new record, its queue's
# position counters (keys.position_key).
# ARGV[1] submitted_at, ARGV[2] idempotency TTL, ARGV[3] the callback URL or "" (X-Callback-Url,
# for every event of the request), ARGV[4] the caller's tenant or "", then five per event:
# function, the backlog limit of its queue, the message, the event's attributes as JSON, the
# new id.
# Returns {1, the ids joined by ",", one flag per event ("1": replayed, "0": new)}, flat so the
# reply is as cheap to read as the submit script's, or {0, queue key, depth, limit} when a
# backlog is full (then nothing was written). A pair seen before (or twice in one batch) gets the
# id it had.
_EVENTS_LUA = """
local n = #KEYS / 4
local ids, replayed, claimed, depth, adding = {}, {}, {}, {}, {}
local flags = {}
for i = 1, n do
  local queue, idem = KEYS[4 * i - 3], KEYS[4 * i - 2]
  local base = 4 + 5 * (i - 1)
  local prior = claimed[idem] or redis.call('HGET', idem, 'value')
  if prior then
    ids[i], replayed[i], flags[i] = string.gsub(prior, '^ce|', ''), 1, '1'
  else
    ids[i], replayed[i], flags[i] = ARGV[base + 5], 0, '0'
    claimed[idem] = ids[i]
    depth[queue] = depth[queue] or redis.call('LLEN', queue)
    adding[queue] = (adding[queue] or 0) + 1
    if depth[queue] + adding[queue] > tonumber(ARGV[base + 2]) then
      return {0, queue, depth[queue], ARGV[base + 2]}
    end
  end
end
for i = 1, n do
  if replayed[i] == 0 then
    local base = 4 + 5 * (i - 1)
    local idem = KEYS[4 * i - 2]
    local seq = redis.call('HINCRBY', KEYS[4 * i], 'in', 1)
    redis.call('HSET', KEYS[4 * i - 1], 'function', ARGV[base + 1], 'status', 'queued',
               'submitted_at', ARGV[1], 'attempts', '0', 'idem', idem, 'event', ARGV[base + 4],
               'seq', seq)
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[4 * i - 1], 'callback', ARGV[3]) end
    if ARGV[4] ~= '' then redis.call('HSET', KEYS[4 * i - 1], 'tenant', ARGV[4]) end
    redis.call('LPUSH', KEYS[4 * i - 3], ARGV[base + 3])
    redis.call('HSET', idem, 'value', 'ce|' .. ids[i], 'pending', 1, 'ttl', ARGV[2])
  end
end
return {1, table.concat(ids, ','), table.concat(flags)}
"""
_SCRIPT = Script(_EVENTS_LUA)


@dataclass(slots=True)  # not frozen: one is built per event, on the hot path
class EventSubmit:
    """One event to enqueue: its function, its validated data as JSON, and its attributes."""

    spec: FunctionSpec
    payload_json: str
    source: str
    event_id: str
    attributes_json: bytes


@dataclass(slots=True)
class EventAccepted:
    """The invocation of each event, in order; `replayed[i]` when it existed before."""

    ids: list[str]
    replayed: list[bool]


def event_key(prefix: str, function: str, source: str, event_id: str, tenant: str = "") -> str:
    """The idempotency key of an event for a function: a digest of the pair, after "ce " (an
    Idempotency-Key header holds no space, so the two kinds never collide); a tenant's own
    (keys.tenant_idempotency_key) when a key sent it, so tenants never see each other's ids."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(source.encode())
    digest.update(b"\x00")
    digest.update(event_id.encode())
    if tenant:
        return keys.tenant_idempotency_key(prefix, tenant, function, "ce " + digest.hexdigest())
    return keys.idempotency_key(prefix, function, "ce " + digest.hexdigest())


_builders: dict[tuple[str, str], MessageBuilder] = {}


def _builder(spec: FunctionSpec) -> MessageBuilder:
    found = _builders.get((spec.name, spec.queue))
    if found is None:
        found = _builders[(spec.name, spec.queue)] = MessageBuilder(spec, spec.queue)
    return found


async def submit_events(
    submitter: Submitter,
    events: list[EventSubmit],
    callback: str | None = None,
    tenant: str = "",
) -> EventAccepted:
    """Enqueue every event or none, each new invocation with `callback` (functions/api/
    callbacks.py) and owned by `tenant` (whose (source, id) pairs are its own). Raises as
    `Submitter.submit` does: MemoryFull, RedisUnavailable, OutcomeUnknown (naming the new ids),
    QueueFull."""
    if not events:
        return EventAccepted([], [])
    settings = submitter.settings
    prefix = settings.KEY_PREFIX
    script_keys: list[str] = []
    args: list[Any] = [f"{time.time():.6f}", settings.IDEMPOTENCY_TTL, callback or "", tenant]
    fresh: list[str] = []
    for event in events:
        spec = event.spec
        invocation_id = new_id()
        fresh.append(invocation_id)
        script_keys += [
            keys.queue_key(prefix, spec.queue),
            event_key(prefix, spec.name, event.source, event.event_id, tenant),
            keys.record_key(prefix, invocation_id),
            keys.position_key(prefix, spec.queue),
        ]
        args += [
            spec.name,
            spec.max_backlog or settings.MAX_BACKLOG,
            _builder(spec).build(invocation_id, event.payload_json),
            event.attributes_json,
            invocation_id,
        ]
    reply, missing = await submitter.enqueue_with(_SCRIPT, script_keys, args, fresh)
    if int(reply[0]) == 0:
        queue_key, depth, limit = _text(reply[1]), int(reply[2]), int(reply[3])
        raise QueueFull(queue_key[len(prefix) :], depth, limit)
    ids = _text(reply[1]).split(",")
    replayed = [flag == "1" for flag in _text(reply[2])]
    if missing:
        raise OutcomeUnknown(f"the submit was enqueued, but {missing}", ids)
    return EventAccepted(ids, replayed)


class QueueFull(BacklogFull):
    """A backlog limit a batch of events would pass, in `queue` (events may span queues)."""

    def __init__(self, queue: str, depth: int, limit: int) -> None:
        super().__init__(depth, limit)
        self.queue = queue


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
