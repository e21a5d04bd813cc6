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
