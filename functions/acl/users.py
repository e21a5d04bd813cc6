"""The ACL users, their key patterns and channels for a key layout, and the `user` lines.

The patterns come from functions/keys.py, the commands from functions/acl/commands.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from functions import keys
from functions.acl.commands import API, KEDA, SENDER, WORKER
from functions.acl.glob import matches


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
    """Each pool's in-flight hash, leases, scheduled set and sweep bookkeeping. Not kombu's
    `unacked_index` and `unacked_mutex`: the transport settles and restores deliveries with its
    own scripts (functions/worker/transport.py), so kombu's visibility scan never runs."""
    found: list[str] = []
    for pool in layout.pools:
        p = layout.prefix
        found += [
            keys.unacked_key(p, pool),
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
        # The final scripts queue callbacks and completion events (_lib.lua, notify), and
        # give a finished invocation's place in its tenant's share back (release_share).
        *keys.outbox_patterns(p),
        keys.tenant_pattern(p),
        # fetch.lua counts what leaves a queue and its drain rate (functions/api/position.py).
        keys.position_pattern(p),
        *pid_keys,
    ]
    api_keys = [
        *queues,
        # spillway_in_flight counts the unnamed pool's in-flight hash (HLEN), deployed or not
        # (functions/api/submit.py, Submitter.backlog).
        keys.glob_escape(keys.unacked_key(p)),
        keys.record_pattern(p),
        keys.idempotency_pattern(p),
        keys.glob_escape(keys.probe_key(p)),
        keys.dead_letters_pattern(p),
        keys.auth_pattern(p),
        keys.tenant_pattern(p),
        # The outbox's depth for /metrics, and the replay of a callback's dead letter.
        *keys.outbox_patterns(p),
        # The submit scripts number each record in its queue; GET reads its position.
        keys.position_pattern(p),
    ]
    keda_keys = [
        *(keys.glob_escape(keys.queue_key(p, q)) for q in layout.queues),
        *(keys.glob_escape(keys.unacked_key(p, pool)) for pool in layout.pools),
        *(keys.glob_escape(keys.scheduled_key(p, pool)) for pool in layout.pools),
    ]
    sender_keys = [
        *keys.outbox_patterns(p),
        keys.record_pattern(p),
        keys.dead_letters_pattern(p),
    ]
    api_commands = (*API, "waitaof") if layout.waitaof else API
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
            (*WORKER, *pid_commands, *select, *setinfo),
        ),
        User(
            "keda",
            "read queue, in-flight and scheduled lengths",
            tuple(keda_keys),
            (),
            (*KEDA, *select, *setinfo),
        ),
        User(
            "sender",
            "callback outbox, records, dead letters",
            tuple(sender_keys),
            (),
            (*SENDER, *select, *setinfo),
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
