"""Whether the API's port is free, found out before anything starts, and what to say if not.

The probe binds the way uvicorn will (config.py `bind_socket`: SO_REUSEADDR on, the same host),
so it fails exactly when uvicorn's bind would: a socket still in TIME_WAIT passes, a listener on
an overlapping address does not.
"""

from __future__ import annotations

import errno
import json
import socket
import urllib.request

from functions.dev.errors import PortUnavailable


def check_port(host: str, port: int) -> None:
    """Raise PortUnavailable, naming the port and what to do, when `host:port` cannot be bound."""
    try:
        _bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise PortUnavailable(
                f"port {port} needs privileges this user lacks: pass --port 1024 or above"
            ) from None
        if exc.errno != errno.EADDRINUSE:
            raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        who = "another Spillway API (is a spillway dev already running?)"
        if not _is_spillway(port):
            who = "another program"
        raise PortUnavailable(
            f"port {port} is in use by {who}: stop it, or pass --port {_next_free(host, port)}"
        ) from None


def _bind(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def _is_spillway(port: int) -> bool:
    """The holder answers /healthz as Spillway's API does."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("status") == "ok"


def _next_free(host: str, port: int) -> int:
    """The first port above `port` that binds now (a suggestion, not a reservation)."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        try:
            _bind(host, candidate)
        except OSError:
            continue
        return candidate
    return port + 1
