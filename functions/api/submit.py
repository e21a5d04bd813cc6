"""Enqueueing invocations: record + message + backlog check + idempotency in one Redis round trip.

A Lua script makes the whole submit atomic, so there is no window where an invocation record
exists without its message (or the reverse), two requests with one Idempotency-Key cannot both
enqueue, and a batch is all-or-nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from functions import keys, records
from functions.api.admission import Admission
from functions.api.durability import Durability
from functions.api.keycache import KeyCache
from functions.api.quotas import Quota, RateLimited, TenantBacklogFull
from functions.api.resp import Client, ReplyError, Script, Unanswered
from functions.api.waits import WaitSlots
from functions.apikeys.model import FIELDS
from functions.protocol import MessageBuilder, new_id
from functions.registry import FunctionSpec, Registry
from functions.settings import Settings

T = TypeVar("T")
FIELD_NAMES = [name.encode() for name in FIELDS]

# KEYS[1] queue list, KEYS[2] idempotency key (when ARGV[2] is not empty; else the probe key,
# never touched: Redis checks every key an EVAL names against the caller's ACL, and no ACL
# pattern can admit the empty key), KEYS[3..2+n] one record key per message, KEYS[3+n] the
# queue's position counters (keys.position_key: each record's `seq`, for its position), then,
# with a quota, the key's rate state and the tenant's backlog counter.
# ARGV: max backlog, idempotency value, idempotency ttl, callback URL or "", function,
# submitted_at, quota ("" for none, else "tenant\trate\tburst\tmax backlog":
# functions/api/quotas.py), then the messages. Returns {outcome, depth, prior}: 1 enqueued,
# 0 backlog full, 2 idempotent replay; with a quota, 3 over the rate {3, retry ms, reset ms,
# never fits}, 4 over the tenant's share {4, held, limit}.
# Neither the records nor the Idempotency-Key expire while an invocation is unfinished, however
# long it waits: the worker's finish script sets their TTLs (functions/worker/lua/finish.lua,
# release_idempotency), so a long backlog never turns into 404s or duplicate runs.
_SUBMIT_LUA = """
local depth = redis.call('LLEN', KEYS[1])
if ARGV[2] ~= '' then
  local prior = redis.call('HGET', KEYS[2], 'value')
  if prior then return {2, depth, prior} end
end
local n = #ARGV - 7
-- Quota (functions/api/quotas.py): checked before anything is written, written after.
local q_tenant, q_rate, q_burst, q_share, q_now, q_tat, q_step
if ARGV[7] ~= '' then
  q_tenant, q_rate, q_burst, q_share = string.match(ARGV[7], '^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
  q_rate, q_burst, q_share = tonumber(q_rate), tonumber(q_burst), tonumber(q_share)
  if q_share > 0 then
    local held = tonumber(redis.call('GET', KEYS[5 + n]) or '0')
    if held + n > q_share then return {4, held, q_share} end
  end
  if q_rate > 0 then
    -- The API's clock (submitted_at), not Redis TIME: no TIME call, no effects replication
    -- needed on Redis 6.2, and pods' clocks agree to far less than a key's interval.
    q_now = tonumber(ARGV[6]) * 1000
    q_step = 1000 / q_rate
    local tat = tonumber(redis.call('HGET', KEYS[4 + n], 'tat') or '0')
    if tat < q_now then tat = q_now end
    q_tat = tat + q_step * n
    local allow_at = q_tat - q_step * q_burst
    if allow_at > q_now then
      return {3, math.ceil(allow_at - q_now), math.ceil(tat - q_now), n > q_burst and 1 or 0}
    end
  end
end
if depth + n > tonumber(ARGV[1]) then return {0, depth, ''} end
local seq = redis.call('HINCRBY', KEYS[3 + n], 'in', n) - n
-- One HSET per record, its fields built once (a batch writes n records), `seq` last.
local fields = {'function', ARGV[5], 'status', 'queued', 'submitted_at', ARGV[6], 'attempts', '0'}
if ARGV[2] ~= '' then
  fields[#fields + 1] = 'idem'
  fields[#fields + 1] = KEYS[2]
end
if ARGV[4] ~= '' then
  fields[#fields + 1] = 'callback'
  fields[#fields + 1] = ARGV[4]
end
if q_tenant then
  -- `share` names the counter the worker's scripts take this invocation from when it finishes.
  for _, v in ipairs({'tenant', q_tenant, 'share', KEYS[5 + n]}) do fields[#fields + 1] = v end
end
fields[#fields + 1] = 'seq'
local at = #fields + 1
for i = 1, n do
  fields[at] = seq + i
  redis.call('HSET', KEYS[2 + i], unpack(fields))
end
-- Lua's unpack has a small stack limit: push in slices.
for i = 8, #ARGV, 500 do
  redis.call('LPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], 'value', ARGV[2], 'pending', n, 'ttl', ARGV[3])
end
if q_tenant then
  redis.call('INCRBY', KEYS[5 + n], n)
  if q_tat then
    -- A hash with no TTL, written with HSET: the API's Redis user has no SET (one small hash
    -- per key; a TAT in the past counts as now).
    redis.call('HSET', KEYS[4 + n], 'tat', string.format('%.3f', q_tat))
  end
end
return {1, depth + n, ''}
"""

# The RESP client raises NotSent or Unanswered (OSError subclasses) for every I/O failure and
# for the deadline; LimitOverrunError is a reply line longer than the stream's buffer limit.
REDIS_ERRORS = (OSError, asyncio.LimitOverrunError)


class RedisUnavailable(Exception):
    """Redis could not serve the request: unreachable, silent past the deadline, or refusing
    (out of memory, loading, read-only...). For a submit: nothing was enqueued."""


class OutcomeUnknown(Exception):
    """A submit whose fate the API cannot tell: sent to Redis with no reply within the deadline
    (its script may have run, or may still run when a paused Redis resumes), or enqueued without
    the durability asked for. `ids` are the ids it was given; `detail` says which case."""

    def __init__(self, detail: str, ids: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ids = ids


class BacklogFull(Exception):
    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(depth, limit)
        self.depth = depth
        self.limit = limit


class IdempotencyConflict(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Accepted:
    ids: list[str]
    depth: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Backlog:
    queued: dict[str, int]  # queue -> invocations waiting in its list
    in_flight: int  # delivered, not yet acknowledged (the default pool's `unacked` hash)


class Submitter:
    def __init__(self, redis: Client, settings: Settings, registry: Registry) -> None:
        self.redis = redis
        self.settings = settings
        self.registry = registry
        self._script = Script(_SUBMIT_LUA)
        self.admission = Admission(settings)
        self.durability = Durability(settings)
        self.misconfigured: str | None = None  # why this Redis can never serve (readiness)
        self.contacted = False  # Redis has answered this process at least once (readiness)
        self._builders = {spec.name: MessageBuilder(spec, spec.queue) for spec in registry}
        self.key_cache = KeyCache(settings.AUTH_CACHE)  # API keys read (functions/api/auth.py)
        self.waits = WaitSlots(settings.MAX_WAITS, settings.MAX_WAITS_PER_KEY)  # ?wait= held

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await a Redis call (the client applies the deadline). Failures of any kind become
        RedisUnavailable, chained to the cause: a lost read changed nothing, and `submit`
        looks at the cause to tell an unanswered script apart."""
        try:
            reply = await awaitable
        except REDIS_ERRORS as exc:
            raise RedisUnavailable(str(exc) or type(exc).__name__) from exc
        except ReplyError as exc:
            if exc.transient:  # out of memory, loading, read-only replica...
                raise RedisUnavailable(str(exc)) from exc
            raise
        self.contacted = True
        return reply

    async def submit(
        self,
        spec: FunctionSpec,
        payloads_json: list[str],
        *,
        idempotency_key: str | None = None,
        callback: str | None = None,
        quota: Quota | None = None,
    ) -> Accepted:
        prefix = self.settings.KEY_PREFIX
        builder = self._builders[spec.name]
        ids = [new_id() for _ in payloads_json]
        messages = [builder.build(i, p) for i, p in zip(ids, payloads_json, strict=True)]
        idem_key = keys.probe_key(prefix)
        idem_value = ""
        fingerprint = ""
        if idempotency_key is not None:
            if quota is not None:  # per tenant: tenants never see each other's ids
                idem_key = keys.tenant_idempotency_key(
                    prefix, quota.tenant, spec.name, idempotency_key
                )
            else:
                idem_key = keys.idempotency_key(prefix, spec.name, idempotency_key)
            fingerprint = _fingerprint(payloads_json)
            idem_value = fingerprint + "|" + ",".join(ids)
        max_backlog = spec.max_backlog or self.settings.MAX_BACKLOG
        script_keys = [
            keys.queue_key(prefix, spec.queue),
            idem_key,
            *(keys.record_key(prefix, i) for i in ids),
            keys.position_key(prefix, spec.queue),
        ]
        if quota is not None:  # its rate state and its tenant's counter, named once per key read
            script_keys += quota.script_keys
        args = [
            max_backlog,
            idem_value,
            self.settings.IDEMPOTENCY_TTL,
            callback or "",
            spec.name,
            f"{time.time():.6f}",
            quota.argv if quota is not None else "",
            *messages,
        ]
        result, missing = await self.enqueue_with(self._script, script_keys, args, ids)
        outcome, depth, prior = int(result[0]), int(result[1]), result[2]
        if outcome == 0:
            raise BacklogFull(depth, max_backlog)
        if outcome == 3:
            raise RateLimited(int(result[1]), int(result[2]), bool(int(result[3])))
        if outcome == 4:
            raise TenantBacklogFull(int(result[1]), int(result[2]))
        if outcome == 2:
            prior_text = prior.decode() if isinstance(prior, bytes) else str(prior)
            prior_fp, _, prior_ids = prior_text.partition("|")
            if prior_fp != fingerprint:
                raise IdempotencyConflict
            return Accepted(ids=prior_ids.split(","), depth=depth, replayed=True)
        if missing:
            raise OutcomeUnknown(f"the submit was enqueued, but {missing}", ids)
        return Accepted(ids=ids, depth=depth)

    async def enqueue_with(
        self, script: Script, script_keys: list[str], args: list[Any], ids: list[str]
    ) -> tuple[Any, str | None]:
        """Run an enqueue script (the submit script, or functions/api/eventsubmit.py's): memory
        admission first, durability in the same write, and the same errors (MemoryFull,
        RedisUnavailable, OutcomeUnknown naming `ids`). Returns its reply and what the
        durability asked for lacks (None: all there, or none asked): the caller raises
        OutcomeUnknown for it only if the script wrote something."""
        if self.admission.due():
            await self._sample_memory()
        self.admission.check()
        then = self.durability.command()
        try:
            if then is None:
                reply = await self.call(
                    self.redis.run_script(
                        script, script_keys, args, timeout=self.settings.REDIS_TIMEOUT
                    )
                )
                return reply, None
            result, ack = await self.call(
                self.redis.run_script_then(
                    script, script_keys, args, then, timeout=self.settings.REDIS_TIMEOUT
                )
            )
        except RedisUnavailable as exc:
            # Only a script that left this process can have run. One that Redis refused
            # (OOM, MISCONF, NOREPLICAS, READONLY) wrote nothing: Redis checks a script's first
            # write, and every enqueue script reads before it writes (redis 7.0 src/script.c
            # scriptVerifyWriteCommandAllow, scriptVerifyOOM; 6.2 src/scripting.c).
            if isinstance(exc.__cause__, Unanswered):
                raise OutcomeUnknown(
                    "Redis did not answer after the submit was sent, so it may have been "
                    "enqueued (a paused Redis runs it when it resumes)",
                    ids,
                ) from exc.__cause__
            raise
        return result, self.durability.shortfall(ack)

    async def probe(self, timeout: float | None = None) -> None:
        """Return when Redis would take a submit now; else RedisUnavailable, saying why.

        A PING would pass while Redis refuses writes (NOREPLICAS, READONLY), so this sends a
        write that changes nothing: DEL of a key that never exists. DEL is refused for the
        same reasons a submit is, except memory (it may free): the memory sample, taken in the
        same round trip when one is due, tells that (`admission.state()`). Deleting nothing is
        not propagated to the AOF or to replicas. Any reply from Redis, a refusal included,
        sets `contacted` (as does any call that succeeds).
        """
        commands: list[tuple[Any, ...]] = [("DEL", keys.probe_key(self.settings.KEY_PREFIX))]
        durable = self.durability.probe_commands()
        commands += durable
        sample = self.admission.due()
        if sample:
            commands.append(("INFO", "memory"))
        try:
            replies = await self.call(
                self.redis.pipeline(commands, timeout=timeout or self.settings.REDIS_TIMEOUT)
            )
        except RedisUnavailable as exc:
            self.contacted = self.contacted or isinstance(exc.__cause__, ReplyError)
            raise
        if sample:
            self._memory_sampled(replies[-1])
        if isinstance(replies[0], ReplyError):
            if replies[0].transient:
                raise RedisUnavailable(str(replies[0])) from replies[0]
            raise replies[0]
        if durable:
            # A Redis that cannot do what durability asks (WAITAOF before 7.2, AOF off, a
            # replica) never can: `misconfigured`. Too few replicas now is unavailability.
            self.misconfigured, missing = self.durability.probe(replies[1 : 1 + len(durable)])
            if missing:
                raise RedisUnavailable(missing)

    async def _sample_memory(self) -> None:
        reply = await self.call(
            self.redis.pipeline([("INFO", "memory")], timeout=self.settings.REDIS_TIMEOUT)
        )
        self._memory_sampled(reply[0])

    def _memory_sampled(self, reply: Any) -> None:
        if isinstance(reply, ReplyError):  # e.g. an ACL user without INFO: stop trying
            self.admission.disable(f"INFO memory was refused: {reply}")
        else:
            self.admission.update(reply)

    async def backlog(self) -> Backlog:
        """Every queue's length and the in-flight count, in one round trip. RedisUnavailable
        when Redis does not answer, ReplyError when a key holds something else."""
        prefix = self.settings.KEY_PREFIX
        queues = self.registry.queues()
        commands = [("LLEN", keys.queue_key(prefix, queue)) for queue in queues]
        commands.append(("HLEN", keys.unacked_key(prefix)))
        values: list[Any] = await self.call(
            self.redis.pipeline(commands, timeout=self.settings.REDIS_TIMEOUT)
        )
        for value in values:
            if not isinstance(value, int):
                raise value if isinstance(value, ReplyError) else ReplyError(repr(value))
        return Backlog(dict(zip(queues, values[:-1], strict=True)), values[-1])

    async def outbox(self) -> tuple[int, int]:
        """Deliveries waiting for a sender and waiting for a retry (functions/sender/outbox.py),
        in one round trip."""
        prefix = self.settings.KEY_PREFIX
        ready, retrying = await self.call(
            self.redis.pipeline(
                [("LLEN", keys.outbox_key(prefix)), ("ZCARD", keys.outbox_retry_key(prefix))],
                timeout=self.settings.REDIS_TIMEOUT,
            )
        )
        for value in (ready, retrying):
            if not isinstance(value, int):
                raise value if isinstance(value, ReplyError) else ReplyError(repr(value))
        return ready, retrying

    async def read_api_key(self, key_id: str) -> dict[bytes, Any]:
        """An API key's record (functions/apikeys/model.py): every field of FIELDS, None where
        absent. HMGET, not HGETALL: the reply has the same shape whether or not the key exists,
        so reading an unknown id costs what reading a known one does (bench/authtiming.py)."""
        values: list[Any] = await self.call(
            self.redis.execute(
                "HMGET",
                keys.api_key_key(self.settings.KEY_PREFIX, key_id),
                *FIELDS,
                timeout=self.settings.REDIS_TIMEOUT,
            )
        )
        return dict(zip(FIELD_NAMES, values, strict=True))

    async def read_owned(self, invocation_id: str) -> tuple[dict[str, Any] | None, str]:
        """The record as `read` gives it, and the tenant it belongs to ("" for none)."""
        flat: list[bytes] = await self.call(
            self.redis.execute(
                "HGETALL",
                keys.record_key(self.settings.KEY_PREFIX, invocation_id),
                timeout=self.settings.REDIS_TIMEOUT,
            )
        )
        if not flat:
            return None, ""
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        return records.decode(invocation_id, raw), raw.get(b"tenant", b"").decode()

    async def read(self, invocation_id: str) -> dict[str, Any] | None:
        return (await self.read_owned(invocation_id))[0]

    async def wait(self, invocation_id: str, seconds: float) -> dict[str, Any] | None:
        """Poll the record until it is terminal or `seconds` pass, and return it as last read
        (terminal or not); None if it was never read. RedisUnavailable only if no read worked.

        Polling starts at 5 ms and backs off to 200 ms: cheap for Redis, and quick for the short
        functions `?wait` is meant for.
        """
        deadline = time.monotonic() + seconds
        delay = 0.005
        last: dict[str, Any] | None = None
        while True:
            try:
                record = await self.read(invocation_id)
            except RedisUnavailable:
                if last is None:
                    raise
                return last
            last = record or last
            if record and record["status"] in records.TERMINAL:
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return last
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.2)

    async def run_lua(self, source: str, args: Sequence[Any]) -> Any:
        """Run a script of another store (no keys: functions/deadletters) under the deadline."""
        return await self.call(self.redis.run_script(_script(source), keys=[], args=list(args)))


def _fingerprint(payloads_json: list[str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for payload in payloads_json:
        digest.update(payload.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@cache
def _script(source: str) -> Script:
    return Script(source)
