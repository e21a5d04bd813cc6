"""A small asyncio Redis client: just what the submit path needs, and nothing to import.

Why not redis-py here: its import (command mixins, cluster support) lands on every Knative cold
start, and its per-command overhead shows at thousands of submits per second (the figures:
docs/benchmarks.md, "Behind choices in the code"). The API needs a handful of commands
(EVALSHA/EVAL, HGETALL, PING, LLEN/HLEN) over RESP2
(https://redis.io/docs/latest/develop/reference/protocol-spec/), which this module speaks
directly. The worker keeps using redis-py through Celery.

Failure model: a connection that times out, is cancelled or sees any I/O error is closed, never
reused; idle connections closed by the server are dropped before reuse, so after a Redis restart
the next request simply opens a new connection. Commands are never retried blindly: a submit whose
reply was lost is reported as unavailable, and the producer retries with its Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

Reply = Any

# Server replies that mean "cannot serve right now", not "your command is wrong".
_TRANSIENT = ("OOM", "LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


class ReplyError(Exception):
    """An error reply from Redis."""

    @property
    def transient(self) -> bool:
        return str(self).startswith(_TRANSIENT)


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

    async def roundtrip(self, commands: list[tuple[Any, ...]]) -> list[Reply]:
        self.writer.write(b"".join(encode(c) for c in commands))
        try:
            return [await read_reply(self.reader) for _ in commands]
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("Redis closed the connection") from exc

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
            if setup:
                for reply in await conn.roundtrip(setup):
                    if isinstance(reply, ReplyError):
                        conn.close()
                        raise ConnectionError(f"Redis refused the connection setup: {reply}")
        return conn

    async def pipeline(self, commands: list[tuple[Any, ...]]) -> list[Reply]:
        """Send commands in one write and read their replies; error replies come back as values."""
        if self._closed:
            raise ConnectionError("client closed")
        async with self._slots:
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
                replies = await conn.roundtrip(commands)
            except BaseException:
                conn.close()  # its state is unknown: timed out, cancelled or broken
                raise
            self._idle.append(conn)
            return replies

    async def execute(self, *command: Any) -> Reply:
        (reply,) = await self.pipeline([command])
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def run_script(self, script: Script, keys: list[str], args: list[Any]) -> Reply:
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # First use on this server (or after a restart): EVAL also caches the script.
        return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
