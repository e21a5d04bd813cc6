"""A real HTTP server in the test process that receives callbacks and events and records them.

Each path answers from its own script of statuses (the last one repeats), e.g. `[503, 200]`;
a status may carry headers (`(429, {"Retry-After": "2"})`), and `hang` holds the request open
until the receiver closes, to catch a sender mid-delivery.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = int | tuple[int, dict[str, str]] | str  # a status, a status with headers, or "hang"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass
class Receiver:
    url: str
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def answer(self, path: str, *answers: Answer) -> str:
        """Script `path`'s answers; returns its full URL."""
        self.scripts[path] = list(answers)
        return self.url + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path} received {len(self.at(path))} requests, not {count}")

    def _next(self, path: str) -> Answer:
        with self.lock:
            script = self.scripts.get(path, [200])
            return script.pop(0) if len(script) > 1 else script[0]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.lock:
                receiver.received.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                    )
                )
            answer = receiver._next(self.path)
            if answer == "hang":
                receiver.closing.wait(120)
                return
            status, headers = answer if isinstance(answer, tuple) else (int(answer), {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def receiving(host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A receiver listening on `host` (an IPv6 address gets an IPv6 socket) on a free port."""
    server_class = _V6Server if ":" in host else ThreadingHTTPServer
    receiver = Receiver(url="")
    server = server_class((host, 0), _handler(receiver))
    server.daemon_threads = True
    port = server.server_address[1]
    receiver.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.closing.set()
        server.shutdown()
        server.server_close()
