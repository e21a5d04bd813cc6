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

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from functions import keys

# Sent on every connection by the clients in use and harmless: PING (redis-py's health check,
# KEDA's first call, the API's connection setup). AUTH and HELLO need no permission
# (redis 7.0 src/acl.c ACLCheckAllUserCommandPerm skips CMD_NO_AUTH commands).
_CONNECT = ("ping",)

# What the API's Lua scripts run (functions/api/submit.py; the dead-letter scripts in
# functions/deadletters/lua/ with functions/worker/lua/_lib.lua) besides the plain commands.
_DATA = (
    "lpush",
    "rpush",
    "llen",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hdel",
    "hincrby",
    "hlen",
    "exists",
    "get",
    "incrby",
    "decrby",
    "del",
    "expire",
    "persist",
    "sadd",
    "srem",
    "smembers",
    "zadd",
    "zrem",
    "zcard",
    "zrevrangebyscore",
    "zrangebyscore",
    "time",
)

_API = (
    *_CONNECT,
    # The submit script and the dead-letter scripts: EVALSHA first, EVAL when Redis lost its
    # script cache (functions/api/resp.py, run_script).
    "evalsha",
    "eval",
    *_DATA,
    # Readiness: DEL of a key nothing writes and INFO memory (functions/api/submit.py, probe);
    # INFO replication/server/persistence and WAIT for durable submits (durability.py).
    "info",
    "wait",
)

_WORKER = (
    *_CONNECT,
    # functions/worker/inflight.py and transport.py load their scripts and run them by SHA;
    # kombu's binding refresh does the same (SCRIPT EXISTS, then EVALSHA).
    "evalsha",
    "script|load",
    "script|exists",
    # The peek that waits for a message without taking it (transport.py, Channel._peek).
    "blmove",
    # kombu's queue declare (4 x LLEN in MULTI), binding sets and the binding-deadline sweep.
    "multi",
    "exec",
    "llen",
    "sadd",
    "srem",
    "smembers",
    "zadd",
    "zrem",
    "zrange",
    "zrangebyscore",
    "zscore",
    "zcard",
    "sismember",
    # Inside the in-flight scripts (functions/worker/lua/*.lua).
    "rpop",
    "rpush",
    "lpush",
    "hget",
    "hmget",
    "hset",
    "hdel",
    "hincrby",
    "del",
    "get",
    "incrby",
    "decrby",
    "expire",
    "pexpire",
    "persist",
    "time",
    # Task and worker events for Flower (worker_send_task_events, heartbeats).
    "publish",
)

# KEDA's redis scaler: `EVAL <script> 1 <listName>` on every poll, the script running TYPE and
# then the length command for the type (kedacore/keda pkg/scalers/redis_scaler.go, v2.12.0 to
# v2.18.3: the `getListLengthScript` lookup table; v2.20.0 the if/elseif form), PING when the
# scaler is created (getRedisClient). Our triggers read lists, hashes and sorted sets.
_KEDA = (*_CONNECT, "eval", "type", "llen", "hlen", "zcard")

_SENDER = (
    *_CONNECT,
    "evalsha",
    "eval",
    "script|load",
    "blmove",
    "lmove",
    "lrange",
    "lrem",
    "llen",
    "lpush",
    "rpush",
    "rpop",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hdel",
    "hincrby",
    "zadd",
    "zrem",
    "zrangebyscore",
    "zcard",
    "sadd",
    "smembers",
    "get",
    "incrby",
    "decrby",
    "expire",
    "persist",
    "time",
)


@dataclass(frozen=True, slots=True)
class Layout:
    """What the key names depend on: SPILLWAY_KEY_PREFIX, the queues and the pools."""

    prefix: str = ""
    queues: tuple[str, ...] = ("spillway",)
    pools: tuple[str, ...] = ("",)
    db: int = 0
    # Celery remote control (pidbox): off unless SPILLWAY_REMOTE_CONTROL asks for it.
    remote_control: bool = False
    # The Redis the rules are for (platform/redis.yaml runs 7.4). An ACL naming a command the
    # server does not know stops it from starting, and some that clients send are newer than
    # 6.2: WAITAOF (SPILLWAY_DURABLE_FSYNC, 7.2), CLIENT SETINFO (7.2), which redis-py and
    # go-redis send on every connection, and CLIENT MAINT_NOTIFICATIONS, which redis-py 8 and
    # go-redis 9.17 (KEDA 2.18.3) send on RESP3 connections; both clients ignore a refusal.
    # Redis 6.2 accepts any subcommand name in a rule (7.0 does not) and would log each refusal
    # in ACL LOG; 7.x answers an unknown subcommand before it checks the ACL.
    redis_version: tuple[int, int] = (7, 4)

    @property
    def waitaof(self) -> bool:
        return self.redis_version >= (7, 2)

    @property
    def client_commands(self) -> tuple[str, ...]:
        if self.redis_version < (7, 0):
            return ("client|setinfo", "client|maint_notifications")
        return ("client|setinfo",) if self.redis_version >= (7, 2) else ()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    purpose: str
    keys: tuple[str, ...]  # glob patterns (`~`)
    channels: tuple[str, ...]  # pub/sub glob patterns (`&`)
    commands: tuple[str, ...]  # `+` rules; "@all" for everything

    def rules(self) -> str:
        """The rules after the password: every list reset first, so the line says it all."""
        parts = ["resetkeys", *(f"~{k}" for k in self.keys), "resetchannels"]
        parts += [f"&{c}" for c in self.channels]
        parts += ["-@all", *(f"+{c}" for c in self.commands)]
        return " ".join(parts)


def _queue_keys(layout: Layout) -> list[str]:
    found: list[str] = []
    for queue in layout.queues:
        found.append(keys.glob_escape(keys.queue_key(layout.prefix, queue)))
        found.append(keys.priority_queue_pattern(layout.prefix, queue))
    return found


def _pool_keys(layout: Layout) -> list[str]:
    found: list[str] = []
    for pool in layout.pools:
        p = layout.prefix
        found += [
            keys.unacked_key(p, pool),
            keys.unacked_index_key(p, pool),
            keys.unacked_mutex_key(p, pool),
            keys.leases_key(p, pool),
            keys.scheduled_key(p, pool),
            keys.sweep_key(p, pool),
        ]
    return [keys.glob_escape(k) for k in found]


def _binding_keys(layout: Layout) -> list[str]:
    p = layout.prefix
    found = [keys.binding_deadlines_key(p)]
    for queue in layout.queues:
        found += [keys.binding_key(p, queue), keys.binding_permanent_key(p, queue)]
    return [keys.glob_escape(k) for k in found]


def _pidbox(layout: Layout) -> tuple[list[str], list[str], list[str]]:
    """Keys, channels and commands of Celery's remote control (kombu pidbox Mailbox): the
    `celery.pidbox` fanout exchange's bindings, each worker's `<node>.celery.pidbox` reply queue
    and the PSUBSCRIBE on `/<db>.celery.pidbox` (kombu Channel._subscribe)."""
    if not layout.remote_control:
        return [], [], []
    p = keys.glob_escape(layout.prefix)
    return (
        [
            f"{p}_kombu.binding.celery.pidbox",
            f"{p}_kombu.binding_permanent.celery.pidbox",
            f"{p}_kombu.binding.reply.celery.pidbox",
            f"{p}*.celery.pidbox",
            f"{p}*.reply.celery.pidbox",
            # kombu declares them like any queue, counting the priority sub-lists too.
            f"{p}*.celery.pidbox??[369]",
            f"{p}*.reply.celery.pidbox??[369]",
        ],
        # A PSUBSCRIBE pattern must equal an ACL channel pattern literally (redis 7.0 acl.c
        # ACLCheckChannelAgainstList): kombu subscribes without the key prefix.
        [f"/{layout.db}.celery.pidbox", f"{p}/{layout.db}.celery.pidbox"],
        ["psubscribe", "punsubscribe", "unsubscribe", "subscribe", "brpop"],
    )


def users(layout: Layout) -> list[User]:
    p = layout.prefix
    select = ("select",) if layout.db else ()
    queues = _queue_keys(layout)
    pools = _pool_keys(layout)
    pid_keys, pid_channels, pid_commands = _pidbox(layout)
    worker_keys = [
        *queues,
        *pools,
        *_binding_keys(layout),
        keys.held_pattern(p),
        keys.tasks_pattern(p),
        keys.record_pattern(p),
        # finish.lua lets a finished invocation's Idempotency-Key expire.
        keys.idempotency_pattern(p),
        keys.dead_letters_pattern(p),
        *pid_keys,
    ]
    api_keys = [
        *queues,
        # spillway_in_flight reads the default pool's hash; dead-letter replays touch records.
        *pools,
        keys.record_pattern(p),
        keys.idempotency_pattern(p),
        keys.glob_escape(keys.probe_key(p)),
        keys.dead_letters_pattern(p),
        keys.auth_pattern(p),
    ]
    keda_keys = [
        *(keys.glob_escape(keys.queue_key(p, q)) for q in layout.queues),
        *(keys.glob_escape(keys.unacked_key(p, pool)) for pool in layout.pools),
        *(keys.glob_escape(keys.scheduled_key(p, pool)) for pool in layout.pools),
    ]
    sender_keys = [
        keys.callbacks_pattern(p),
        keys.record_pattern(p),
        keys.dead_letters_pattern(p),
    ]
    api_commands = (*_API, "waitaof") if layout.waitaof else _API
    setinfo = layout.client_commands
    return [
        User(
            "default",
            "operators: redis-cli, spillway dlq, spillway keys",
            ("*",),
            ("*",),
            ("@all",),
        ),
        User(
            "api",
            "submit, read, readiness, metrics, dead letters, API keys",
            tuple(api_keys),
            (),
            (*api_commands, *select),
        ),
        User(
            "worker",
            "consume, record outcomes, retry, dead-letter, task events",
            tuple(worker_keys),
            (keys.events_channel_pattern(p, layout.db), *pid_channels),
            (*_WORKER, *pid_commands, *select, *setinfo),
        ),
        User(
            "keda",
            "read queue, in-flight and scheduled lengths",
            tuple(keda_keys),
            (),
            (*_KEDA, *select, *setinfo),
        ),
        User(
            "sender",
            "callback outbox, records, dead letters",
            tuple(sender_keys),
            (),
            (*_SENDER, *select, *setinfo),
        ),
    ]


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def acl_lines(layout: Layout, hashes: Mapping[str, Sequence[str]]) -> list[str]:
    """`user` lines for redis.conf (or an aclfile): each user's accepted password hashes (two
    during a rotation) and its rules. A user without hashes is left out, so it cannot log in."""
    lines = []
    for user in users(layout):
        accepted = hashes.get(user.name, ())
        if not accepted:
            continue
        passwords = " ".join(f"#{h}" for h in accepted)
        lines.append(f"user {user.name} on resetpass {passwords} {user.rules()}")
    return lines


def names() -> list[str]:
    return [user.name for user in users(Layout())]


def matches(pattern: str, key: str) -> bool:
    """Redis's glob match (util.c stringmatchlen) for the patterns generated here: `*`, `?`,
    `[...]` and `\\` escapes."""
    return _match(pattern, 0, key, 0)


def _match(p: str, i: int, s: str, j: int) -> bool:
    while i < len(p):
        c = p[i]
        if c == "*":
            while i + 1 < len(p) and p[i + 1] == "*":
                i += 1
            if i + 1 == len(p):
                return True
            return any(_match(p, i + 1, s, k) for k in range(j, len(s) + 1))
        if j >= len(s):
            return False
        if c == "?":
            pass
        elif c == "[":
            end = p.index("]", i + 1)
            if s[j] not in p[i + 1 : end]:
                return False
            i = end
        else:
            if c == "\\" and i + 1 < len(p):
                i += 1
            if p[i] != s[j]:
                return False
        i += 1
        j += 1
    return j == len(s)


def owners(layout: Layout, key: str) -> list[str]:
    """The users whose key patterns cover `key`, besides `default`."""
    return [
        user.name
        for user in users(layout)
        if user.name != "default" and any(matches(p, key) for p in user.keys)
    ]


def table(layout: Layout) -> Iterable[tuple[str, str, str, str, str]]:
    """(user, purpose, commands, keys, channels) rows, for docs/deploy.md's table."""
    for user in users(layout):
        yield (
            user.name,
            user.purpose,
            " ".join(user.commands),
            " ".join(user.keys),
            " ".join(user.channels),
        )
