"""A small asyncio Redis client: just what the submit path needs, and nothing to import.

Why not redis-py here: its import (command mixins, cluster support) lands on every Knative cold
start, and its per-command overhead shows at thousands of submits per second (the figures:
docs/benchmarks.md, "Behind choices in the code"). The API needs a handful of commands
(EVALSHA/EVAL, HGETALL, PING, LLEN/HLEN) over RESP2
(https://redis.io/docs/latest/develop/reference/protocol-spec/), which this module speaks
directly. The worker keeps using redis-py through Celery.

Failure model: a connection that times out, is cancelled or sees any I/O error is closed, never
reused; idle connections closed by the server are dropped before reuse, so after a Redis restart
the next request simply opens a new connection. Commands are never retried blindly, and a failure
says how far the command got, because only one of the two cases allows "nothing happened":

- `NotSent`: the commands never left this process (no free connection, connect or AUTH/SELECT
  failed or timed out, the connection was already closed). Redis cannot have run them.
- `Unanswered`: the commands were handed to the socket and no complete reply came (the deadline
  passed, the connection was reset or closed). Redis may have run them, or may still: a script
  sent to a paused Redis (SIGSTOP, a long fork, a stalled VM) runs when it resumes, whoever is
  still listening. The caller must treat the outcome as unknown.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

Reply = Any

# Error codes that mean "cannot serve right now", not "your command is wrong": memory full,
# loading, a script running too long, a replica or a master that lost its link, a persistence
# failure (MISCONF: stop-writes-on-bgsave-error, or an AOF write error), too few replicas for
# min-replicas-to-write (NOREPLICAS), a cluster moving slots, and an ACL user whose rules are
# older than this code (NOPERM: the operator must refresh them, docs/deploy.md; the caller's
# request was not wrong).
_UNAVAILABLE = frozenset(
    {"OOM", "LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "MISCONF",
     "NOREPLICAS", "NOPERM"}
)  # fmt: skip
# Redis sends this as a plain ERR to a connection it accepts over `maxclients`, then closes it,
# before reading any command (7.0.15 src/networking.c, acceptCommonHandler).
_TOO_MANY_CLIENTS = "ERR max number of clients reached"
# Redis 6.2 wraps the error of a command called from a script as "ERR Error running script
# (call to f_<sha>): @user_script:<line>: @user_script: <line>: -<CODE> <message>"; 7.0 passes
# "<CODE> <message> script: ..." through (6.2.14 src/scripting.c, evalGenericCommand; 7.0.15
# src/script_lua.c, luaCallFunction).
_SCRIPT_ERROR = re.compile(r"^ERR Error running script .*?: -([A-Z]+) ")


class NotSent(ConnectionError):
    """The commands never left this process: Redis did not run them."""


class Unanswered(ConnectionError):
    """The commands were written but no complete reply came: Redis may have run them."""


class ReplyError(Exception):
    """An error reply from Redis."""

    @property
    def code(self) -> str:
        """The error code (the reply's first word), looking inside a 6.2 script error."""
        text = str(self)
        wrapped = _SCRIPT_ERROR.match(text)
        return wrapped.group(1) if wrapped else text.split(" ", 1)[0]

    @property
    def transient(self) -> bool:
        """Redis cannot serve now (and did not run the command); the same call may work later."""
        return self.code in _UNAVAILABLE or str(self).startswith(_TOO_MANY_CLIENTS)


@dataclass(frozen=True, slots=True)
class Address:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
        db_text = parts.path.strip("/") if parts.scheme != "unix" else ""
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        db = int(db_text or query.get("db", "0"))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            path=parts.path if parts.scheme == "unix" else None,
            db=db,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "rediss",
        )


def encode(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"$":
        length = int(rest)
        return None if length < 0 else (await reader.readexactly(length + 2))[:-2]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [await read_reply(reader) for _ in range(count)]
    if kind == b"-":
        return ReplyError(rest.decode(errors="replace"))
    raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def write(self, commands: list[tuple[Any, ...]]) -> None:
        if not self.usable:  # asyncio drops writes to a closing transport silently
            raise NotSent("the connection was closed")
        self.writer.write(b"".join(encode(c) for c in commands))

    async def read(self, count: int) -> list[Reply]:
        try:
            return [await read_reply(self.reader) for _ in range(count)]
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("Redis closed the connection") from exc

    async def roundtrip(self, commands: list[tuple[Any, ...]]) -> list[Reply]:
        self.write(commands)
        return await self.read(len(commands))

    def close(self) -> None:
        self.writer.close()


class Script:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # EVALSHA names scripts by SHA1


class Client:
    """A pool of RESP connections; each call borrows one connection for one round trip."""

    def __init__(
        self, url: str, *, connect_timeout: float = 1.0, max_connections: int = 64
    ) -> None:
        self.address = Address.from_url(url)
        self.connect_timeout = connect_timeout
        self._idle: deque[Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def _connect(self) -> Connection:
        a = self.address
        async with asyncio.timeout(self.connect_timeout):
            if a.path:
                reader, writer = await asyncio.open_unix_connection(a.path)
            else:
                context = ssl.create_default_context() if a.tls else None
                reader, writer = await asyncio.open_connection(a.host, a.port, ssl=context)
            conn = Connection(reader, writer)
            setup: list[tuple[Any, ...]] = []
            if a.password is not None:
                setup.append(
                    ("AUTH", a.username, a.password) if a.username else ("AUTH", a.password)
                )
            if a.db:
                setup.append(("SELECT", a.db))
            # One round trip before the connection is used: a server over `maxclients` answers
            # its first reply with an error and closes, and a command written after that close
            # would be reset unanswered (outcome unknown) although Redis never read it.
            setup = setup or [("PING",)]
            try:
                replies = await conn.roundtrip(setup)
            except BaseException:
                conn.close()
                raise
            for reply in replies:
                if isinstance(reply, ReplyError):
                    conn.close()
                    raise ConnectionError(f"Redis refused the connection setup: {reply}")
        return conn

    async def pipeline(
        self, commands: list[tuple[Any, ...]], *, timeout: float | None = None
    ) -> list[Reply]:
        """Send commands in one write and read their replies; error replies come back as values.

        `timeout` bounds the whole call (waiting for a connection included). Failures raise
        `NotSent` or `Unanswered` (both OSError subclasses), chained to the cause.
        """
        if self._closed:
            raise NotSent("client closed")
        sent = False
        try:
            async with asyncio.timeout(timeout), self._slots:
                conn = None
                while self._idle and conn is None:
                    candidate = self._idle.pop()
                    if candidate.usable:
                        conn = candidate
                    else:
                        candidate.close()
                if conn is None:
                    conn = await self._connect()
                try:
                    conn.write(commands)
                    sent = True
                    replies = await conn.read(len(commands))
                except BaseException:
                    conn.close()  # its state is unknown: timed out, cancelled or broken
                    raise
                self._idle.append(conn)
                return replies
        except (OSError, asyncio.LimitOverrunError, asyncio.IncompleteReadError) as exc:
            if isinstance(exc, NotSent | Unanswered):
                raise
            what = str(exc) or type(exc).__name__
            if sent:
                raise Unanswered(f"no reply from Redis: {what}") from exc
            raise NotSent(f"could not reach Redis: {what}") from exc

    async def execute(self, *command: Any, timeout: float | None = None) -> Reply:
        (reply,) = await self.pipeline([command], timeout=timeout)
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def run_script(
        self, script: Script, keys: list[str], args: list[Any], *, timeout: float | None = None
    ) -> Reply:
        """Run a script: EVALSHA, or EVAL when the server does not have it yet."""
        (reply,) = await self._script(script, keys, args, (), timeout)
        return reply

    async def run_script_then(
        self,
        script: Script,
        keys: list[str],
        args: list[Any],
        then: tuple[Any, ...],
        *,
        timeout: float | None = None,
    ) -> tuple[Reply, Reply]:
        """Run a script and `then` one more command in the same write (WAIT after a write);
        `then`'s error reply comes back as a value."""
        reply, after = await self._script(script, keys, args, (then,), timeout)
        return reply, after

    async def _script(
        self,
        script: Script,
        keys: list[str],
        args: list[Any],
        then: tuple[tuple[Any, ...], ...],
        timeout: float | None,
    ) -> list[Reply]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        for verb, body in (("EVALSHA", script.sha), ("EVAL", script.source)):
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            replies = await self.pipeline(
                [(verb, body, len(keys), *keys, *args), *then], timeout=remaining
            )
            first = replies[0]
            if isinstance(first, ReplyError):
                # First use on this server (or after a restart): EVAL also caches the script.
                # NOSCRIPT means it did not run, so sending it again cannot run it twice.
                if verb == "EVALSHA" and str(first).startswith("NOSCRIPT"):
                    continue
                raise first
            return replies
        raise ReplyError("NOSCRIPT after EVAL")  # EVAL never answers NOSCRIPT

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
