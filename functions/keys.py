"""Redis key names that the API, the worker and the manifests must agree on.

Celery's Redis transport (kombu) keeps each queue as a list named after the queue and every
delivered-but-unacked message in one `unacked` hash per database; `global_keyprefix` prefixes
both (kombu/transport/redis.py). The KEDA trigger's `listName` must therefore be the prefixed name.
"""

from __future__ import annotations

UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


def queue_key(prefix: str, queue: str) -> str:
    return f"{prefix}{queue}"


def unacked_key(prefix: str) -> str:
    return f"{prefix}{UNACKED}"


def record_key(prefix: str, invocation_id: str) -> str:
    return f"{prefix}spillway:inv:{invocation_id}"


def idempotency_key(prefix: str, function: str, key: str) -> str:
    return f"{prefix}spillway:idem:{function}:{key}"
