"""Redis key names that the API, the worker and the manifests must agree on.

Celery's Redis transport (kombu) keeps each queue as a list named after the queue and every
delivered-but-unacked message in an `unacked` hash (kombu/transport/redis.py). By default that hash
is shared by everything using the database, so a KEDA trigger on it would count other pools' work
too: a worker pool (SPILLWAY_POOL) gets its own hash through kombu's `unacked_key` transport
option. `global_keyprefix` (SPILLWAY_KEY_PREFIX) prefixes every key, so the KEDA trigger's
`listName` must be the prefixed name.
"""

from __future__ import annotations

UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
UNACKED_MUTEX = "unacked_mutex"


def queue_key(prefix: str, queue: str) -> str:
    return f"{prefix}{queue}"


def pool_suffix(pool: str) -> str:
    return f":{pool}" if pool else ""


def unacked_key(prefix: str, pool: str = "") -> str:
    return f"{prefix}{UNACKED}{pool_suffix(pool)}"


def unacked_index_key(prefix: str, pool: str = "") -> str:
    return f"{prefix}{UNACKED_INDEX}{pool_suffix(pool)}"


def unacked_mutex_key(prefix: str, pool: str = "") -> str:
    return f"{prefix}{UNACKED_MUTEX}{pool_suffix(pool)}"


def record_key(prefix: str, invocation_id: str) -> str:
    return f"{prefix}spillway:inv:{invocation_id}"


def idempotency_key(prefix: str, function: str, key: str) -> str:
    return f"{prefix}spillway:idem:{function}:{key}"


def probe_key(prefix: str) -> str:
    """Never written: the API's readiness check deletes it to learn whether Redis takes writes."""
    return f"{prefix}spillway:probe"


def leases_key(prefix: str, pool: str = "") -> str:
    """The pool's worker leases (worker id -> deadline); functions/worker/lua/_lib.lua."""
    return f"{prefix}spillway:leases{pool_suffix(pool)}"


def scheduled_key(prefix: str, pool: str = "") -> str:
    """Messages waiting in Redis for a due time: retries after their backoff, held-back ones."""
    return f"{prefix}spillway:scheduled{pool_suffix(pool)}"


def held_key(prefix: str, worker: str) -> str:
    """The delivery tags one worker's lease answers for (functions/worker/lua/_lib.lua)."""
    return f"{prefix}spillway:held:{worker}"


def sweep_key(prefix: str, pool: str = "") -> str:
    return f"{prefix}spillway:sweep{pool_suffix(pool)}"


def dead_letters_key(prefix: str, queue: str) -> str:
    """A queue's dead letters (id -> JSON entry); `dead_letters_key(...) + ":index"` by time."""
    return f"{prefix}spillway:dlq:{queue}"


def tasks_key(prefix: str, worker: str) -> str:
    """The task names one worker's lease says it can run (functions/worker/lua/lease.lua)."""
    return f"{prefix}spillway:tasks:{worker}"


# kombu's own keys (kombu/transport/redis.py, Channel.keyprefix_queue,
# keyprefix_binding_permanent, keyprefix_binding_deadlines): a worker declaring its queues
# writes the binding sets; every name gets global_keyprefix like the queues.
def binding_key(prefix: str, queue: str) -> str:
    return f"{prefix}_kombu.binding.{queue}"


def binding_permanent_key(prefix: str, queue: str) -> str:
    return f"{prefix}_kombu.binding_permanent.{queue}"


def binding_deadlines_key(prefix: str) -> str:
    return f"{prefix}_kombu.binding_deadlines"


# Queue lists with kombu's priority steps: `<queue>\x06\x16<step>` (kombu/transport/redis.py,
# Channel._q_for_pri with PRIORITY_STEPS 0, 3, 6, 9). Nothing sends priorities, but a worker
# names every step in its fetch and kombu's declare counts them (LLEN).
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def priority_queue_keys(prefix: str, queue: str) -> list[str]:
    return [f"{prefix}{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS]


# Glob patterns for Redis ACL rules (functions/acl/): one per family of keys whose names
# carry an id. Every other key the ACL names is spelled by the functions above.
def glob_escape(text: str) -> str:
    """`text` as a Redis glob that matches only itself (util.c stringmatchlen: `\\` escapes)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def priority_queue_pattern(prefix: str, queue: str) -> str:
    """The priority sub-lists of a queue, without control bytes in the ACL file: the two
    separator bytes as `??`, then the step."""
    steps = "".join(str(step) for step in PRIORITY_STEPS)
    return glob_escape(queue_key(prefix, queue)) + f"??[{steps}]"


def record_pattern(prefix: str) -> str:
    return glob_escape(prefix) + "spillway:inv:*"


def idempotency_pattern(prefix: str) -> str:
    return glob_escape(prefix) + "spillway:idem:*"


def held_pattern(prefix: str) -> str:
    return glob_escape(prefix) + "spillway:held:*"


def tasks_pattern(prefix: str) -> str:
    return glob_escape(prefix) + "spillway:tasks:*"


def dead_letters_pattern(prefix: str) -> str:
    """Every dead-letter key: the stores, their indexes, and the queues/totals/shed hashes."""
    return glob_escape(prefix) + "spillway:dlq:*"


def auth_pattern(prefix: str) -> str:
    """API keys and their rate state (issue 12): the API's alone, never a worker's."""
    return glob_escape(prefix) + "spillway:auth:*"


def tenant_pattern(prefix: str) -> str:
    """Tenants' backlog counters: the API adds, the workers' final scripts take away."""
    return glob_escape(prefix) + "spillway:tenant:*"


def position_pattern(prefix: str) -> str:
    """Every queue's position counters (position_key): written by the submit scripts and the
    worker's fetch, read by the API."""
    return glob_escape(prefix) + "spillway:pos:*"


def outbox_patterns(prefix: str) -> list[str]:
    """The callback outbox and its bookkeeping (the outbox_* keys below)."""
    escaped = glob_escape(outbox_key(prefix))
    return [escaped, escaped + ":*"]


def events_channel_pattern(prefix: str, db: int) -> str:
    """The pub/sub channels Celery's task and worker events go to: kombu publishes the fanout
    exchange `celeryev` on `/<db>.celeryev/<routing key>` (Channel.keyprefix_fanout,
    _get_publish_topic), and its prefixing client puts global_keyprefix in front of PUBLISH's
    channel too (PrefixedStrictRedis.PREFIXED_SIMPLE_COMMANDS)."""
    return f"{glob_escape(prefix)}/{db}.celeryev/*"


# --- the outbox: callbacks and completion events the sender delivers (functions/sender/) ---
def outbox_key(prefix: str) -> str:
    """Deliveries ready to send (a list; the worker's final scripts LPUSH, senders take the right
    end). Also the 'queue' of their dead letters: `dead_letter` names the store after this key."""
    return f"{prefix}spillway:outbox"


def outbox_retry_key(prefix: str) -> str:
    """Deliveries waiting for their next attempt (zset, due time in ms)."""
    return f"{prefix}spillway:outbox:retry"


def outbox_processing_key(prefix: str, sender: str) -> str:
    """What one sender has taken and not settled yet (a list, moved there by BLMOVE)."""
    return f"{prefix}spillway:outbox:processing:{sender}"


def outbox_senders_key(prefix: str) -> str:
    """Live senders (zset, sender id -> lease deadline in ms); an expired one's items go back."""
    return f"{prefix}spillway:outbox:senders"


def outbox_events_key(prefix: str) -> str:
    """Set by a sender that starts with an events sink (deleted by one that starts without):
    while it exists, the worker's final scripts queue a completion event for every finished
    invocation. The sink is the sender's setting (a SinkBinding injects it there), so the
    sender tells the workers through Redis rather than each worker being configured too."""
    return f"{prefix}spillway:outbox:events"


def position_key(prefix: str, queue: str) -> str:
    """A queue's position counters (hash): `in` (enqueued, by the submit scripts), `out` (taken,
    by the worker's fetch script, less what was put back) and its measured drain rate
    (functions/api/position.py)."""
    return f"{prefix}spillway:pos:{queue}"


# --- API keys (functions/apikeys/): everything under one prefix, `spillway:auth:`, which only
# the API and `spillway keys` read, so a Redis ACL can keep workers away from it.
AUTH = "spillway:auth:"


def auth_prefix(prefix: str) -> str:
    return f"{prefix}{AUTH}"


def api_key_key(prefix: str, key_id: str) -> str:
    """One key's record (hash, functions/apikeys/model.py): tenant, digest, scopes, limits."""
    return f"{prefix}{AUTH}key:{key_id}"


def api_key_index(prefix: str) -> str:
    """The set of every key id, for `spillway keys list`."""
    return f"{prefix}{AUTH}keys"


def rate_key(prefix: str, key_id: str) -> str:
    """A key's GCRA state (hash, field `tat`: its theoretical arrival time), written by the
    submit script."""
    return f"{prefix}{AUTH}rate:{key_id}"


def tenant_backlog_key(prefix: str, tenant: str) -> str:
    """A tenant's unfinished invocations: the submit script adds, the worker's scripts take
    away when one finishes (functions/worker/lua/_lib.lua, release_share). Not under AUTH:
    workers write it."""
    return f"{prefix}spillway:tenant:{tenant}:backlog"


def tenant_idempotency_key(prefix: str, tenant: str, function: str, key: str) -> str:
    """An Idempotency-Key scoped to a tenant: `@` cannot start a function name, so these never
    meet the unscoped keys of an API without authentication."""
    return f"{prefix}spillway:idem:@{tenant}:{function}:{key}"
