"""Durable submits: answer 202 only once the submit is on replicas, or on disk.

By default a 202 means the submit script ran on the Redis primary; what it survives then depends
on Redis's persistence (docs/deploy.md, "Persistence and what a 202 survives"). Two settings make
the API wait for more, with the command sent in the same write as the script, so it costs
no extra round trip, only the wait:

- SPILLWAY_DURABLE_REPLICAS=N: `WAIT N timeout` (Redis 3.0+), the number of replicas that
  acknowledged this connection's writes. A replica has *received* the submit; it has not
  necessarily written it to disk (redis commands/wait.md).
- SPILLWAY_DURABLE_FSYNC=true: `WAITAOF 1 N timeout` (Redis 7.2+ only; Spillway supports 6.2, so
  it is optional): the primary's AOF, and N replicas' AOFs, fsync'd the submit. It needs
  `appendonly yes`. On an older Redis, or with AOF off, the API never becomes ready and says why.

When the acknowledgment falls short within SPILLWAY_DURABLE_TIMEOUT, the submit is enqueued on
the primary but not as durable as asked: the answer is 503 outcome-unknown with the ids (a
failover now could lose it), never a 202.
"""

from __future__ import annotations

from typing import Any

from functions.api.resp import ReplyError
from functions.settings import Settings


class Durability:
    def __init__(self, settings: Settings) -> None:
        self.replicas = settings.DURABLE_REPLICAS
        self.fsync = settings.DURABLE_FSYNC
        self.timeout_ms = max(1, round(settings.DURABLE_TIMEOUT * 1000))
        self.enabled = self.fsync or self.replicas > 0

    def command(self) -> tuple[Any, ...] | None:
        """The command to send after a submit's script; None when durability is off."""
        if not self.enabled:
            return None
        if self.fsync:
            return ("WAITAOF", 1, self.replicas, self.timeout_ms)
        return ("WAIT", self.replicas, self.timeout_ms)

    def probe_commands(self) -> list[tuple[Any, ...]]:
        """What readiness asks to tell whether durable submits can succeed now: INFO, which
        never blocks. (A WAIT asking for no replica would not block either, but it counts
        replicas that acknowledged the connection's last write, and replicas acknowledge only
        once a second unless a WAIT blocks: src/replication.c, waitCommand, replicationCron.)"""
        commands: list[tuple[Any, ...]] = []
        if self.replicas:
            commands.append(("INFO", "replication"))
        if self.fsync:
            commands += [("INFO", "server"), ("INFO", "persistence")]
        return commands

    def probe(self, replies: list[Any]) -> tuple[str | None, str | None]:
        """From the replies to `probe_commands`: (why this Redis can never serve a durable
        submit, or None; why it cannot right now, or None)."""
        info = {}
        for reply in replies:
            if isinstance(reply, ReplyError):
                return None, f"{self.describe()} cannot be checked: {reply}"
            info.update(_fields(reply))
        if info.get("role", "master") != "master":
            return f"{self.describe()} needs the primary, not a replica", None
        if self.fsync:
            version = tuple(int(x) for x in info.get("redis_version", "0").split(".")[:2])
            if version < (7, 2):
                found = info.get("redis_version", "unknown")
                return f"{self.describe()} needs Redis 7.2 or later, not {found}", None
            if info.get("aof_enabled") != "1":
                return f"{self.describe()} needs appendonly yes", None
        online = sum(
            1 for key, value in info.items() if key.startswith("slave") and "state=online" in value
        )
        if online < self.replicas:
            return None, f"{self.describe()}: {online} of {self.replicas} replicas online"
        return None, None

    def shortfall(self, reply: Any) -> str | None:
        """What the acknowledgment (of `command` or `probe_command`) lacks, or None when the
        submit is as durable as asked."""
        if isinstance(reply, ReplyError):
            return f"{self.describe()} failed: {reply}"
        if self.fsync:
            local, replicas = (int(x) for x in reply)
            if local >= 1 and replicas >= self.replicas:
                return None
            return (
                f"{self.describe()} was not confirmed within {self.timeout_ms} ms "
                f"(fsync'd locally: {local}, by replicas: {replicas} of {self.replicas})"
            )
        if int(reply) >= self.replicas:
            return None
        return (
            f"{self.describe()} was not confirmed within {self.timeout_ms} ms "
            f"({int(reply)} of {self.replicas} replicas)"
        )

    def describe(self) -> str:
        if self.fsync:
            return f"fsync to the AOF (WAITAOF 1 {self.replicas})"
        return f"replication to {self.replicas} replica(s) (WAIT)"


def _fields(reply: Any) -> dict[str, str]:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
