"""The SSRF guard at connect time: an HTTP transport that connects only to addresses it checked.

Checking a URL's host and then letting the HTTP client resolve it again to connect leaves a
window: a name can resolve to a public address for the check and to 127.0.0.1 for the connection
(DNS rebinding). So the check lives where the connection is made. httpcore opens every TCP
connection through its network backend's `connect_tcp(host, port, ...)` (httpcore 1.0.9,
_async/connection.py, AsyncHTTPConnection._connect); this backend resolves the host once, drops
every address the guard refuses (functions/targets.py), connects to an address it checked (by
number, so nothing resolves it again) and checks the peer of the socket it got. TLS still
verifies the certificate against the URL's host name: httpcore passes the origin's host as
`server_hostname` to start_tls, not the address connected to.

Redirects are never followed (the client's default, kept: a 3xx is a failed delivery), and the
environment's proxies are ignored (`trust_env=False`): a proxy would connect on our behalf,
unchecked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.auto import AutoBackend

from functions.targets import Guard, Refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(Exception):
    """The callback's host resolves only to addresses the guard refuses; never retried."""

    def __init__(self, host: str, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        detail = "; ".join(str(r) for r in refusals[:3]) or "it resolves to no address"
        super().__init__(f"refused to connect to {host}: {detail}")


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


class GuardedBackend(AsyncNetworkBackend):
    """httpcore's default backend, connecting only to addresses the guard allows."""

    def __init__(self, guard: Guard, resolver: Resolver = resolve) -> None:
        self.guard = guard
        self.resolver = resolver
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refusals: list[Refusal] = []
        allowed: list[str] = []
        for address in addresses:
            refusal = self.guard.refusal(address)
            if refusal is None:
                allowed.append(address)
            else:
                refusals.append(refusal)
        if not allowed:
            raise TargetRefused(host, refusals)
        error: Exception | None = None
        for address in allowed:  # in the resolver's order, as a plain client would
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            self._check_peer(host, stream)
            return stream
        assert error is not None
        raise error

    def _check_peer(self, host: str, stream: AsyncNetworkStream) -> None:
        """The address the socket is connected to passes the guard too (belt and braces: it is
        the one just checked, unless a lower layer redirected the connection)."""
        peer = stream.get_extra_info("server_addr")
        if not peer:
            return
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except ValueError:
            return
        refusal = self.guard.refusal(address)
        if refusal is not None:
            raise TargetRefused(host, [refusal])

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncNetworkStream:
        raise TargetRefused(path, [])

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a GuardedBackend, with no proxies from the environment."""

    def __init__(self, guard: Guard, resolver: Resolver = resolve, **pool: Any) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(guard, resolver),
            **pool,
        )
