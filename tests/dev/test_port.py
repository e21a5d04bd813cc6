"""`spillway dev` finds a held port before it starts anything, and says what to do."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from functions.dev.errors import PortUnavailable
from functions.dev.port import check_port
from functions.localredis import free_port


@pytest.fixture
def held() -> Iterator[int]:
    """A port another program listens on (loopback only, as a local service would)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_free_port_passes() -> None:
    check_port("0.0.0.0", free_port())


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_port_another_program_holds_is_named_with_a_free_one(held: int, host: str) -> None:
    """uvicorn binds SPILLWAY_HOST (0.0.0.0 by default): a loopback listener blocks it too."""
    with pytest.raises(PortUnavailable) as refused:
        check_port(host, held)
    message = str(refused.value)
    assert message.startswith(f"port {held} is in use by another program: stop it, or pass --port ")
    suggested = int(message.rsplit(" ", 1)[1])
    check_port(host, suggested)


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_port_a_spillway_api_holds_says_so() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PortUnavailable, match="another Spillway API .is a spillway dev"):
            check_port("0.0.0.0", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
