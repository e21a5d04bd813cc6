"""Least-privilege Redis ACL users for each Spillway component, generated from functions/keys.py.

One user per process kind, each with the commands it sends and the keys and channels it touches,
so a worker running user code cannot read API keys, flush the database or reconfigure Redis, and
KEDA cannot write at all:

    default  operators (`redis-cli`, `spillway dlq`, `spillway keys`): everything
    api      the submit script, reads, readiness, metrics, dead-letter operations, API keys
    worker   Celery through functions/worker/transport.py and its Lua scripts, task events
    keda     KEDA's redis scaler: one Lua script (TYPE, then LLEN/HLEN/ZCARD) per trigger
    sender   the callback sender: its outbox, records, dead letters

Only rules that Redis 6.2 understands are generated (`~pattern`, `&channel`, `+command`,
`+command|sub`; no `%R~` selectors, which are 7.0+), so one file serves every supported Redis.
That costs nothing here: KEDA's script runs under EVAL, whose keys Redis checks as read-write
whatever the script does (redis 7.0 `src/commands/eval.json` key spec `RW ACCESS UPDATE`), so a
read-only pattern could not serve it anyway; what keeps KEDA from writing is that the only
commands it may run are TYPE, LLEN, HLEN and ZCARD.

Key names carry SPILLWAY_KEY_PREFIX (glob-escaped here), queue lists are per queue and the
in-flight hash, leases and scheduled set per pool, so the rules depend on a `Layout`.

Standard library only: scripts/redis-secret imports this module without the project's
dependencies (the `functions` package imports nothing eagerly).
"""

from __future__ import annotations

from functions.acl.glob import matches
from functions.acl.users import Layout, User, acl_lines, names, owners, password_hash, table, users

__all__ = [
    "Layout",
    "User",
    "acl_lines",
    "matches",
    "names",
    "owners",
    "password_hash",
    "table",
    "users",
]
