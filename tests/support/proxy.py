"""A TCP proxy in front of a Redis that can lose one reply: a network failure at the worst time.

`Proxy.cut_reply(marker)` arms it: the next command sent through it that contains `marker` goes
on to Redis and runs, but the reply that comes back (unless it is an empty array, `*0`) is
dropped and that connection is closed on both sides, as when a link fails after the request
left. Everything else is passed through unchanged.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from functions.localredis import free_port

_EMPTY_ARRAY = b"*0\r\n"


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket
    doomed: bool = False


@dataclass
class Proxy:
    upstream_port: int
    port: int = field(default_factory=free_port)
    cut: threading.Event = field(default_factory=threading.Event)  # set once a reply was lost
    _marker: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _links: list[_Link] = field(default_factory=list)
    _listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Proxy:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()
        return self

    def cut_reply(self, marker: bytes) -> None:
        with self._lock:
            self.cut.clear()
            self._marker = marker

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for link in list(self._links):
            _close(link)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            link = _Link(client, server)
            self._links.append(link)
            threading.Thread(target=self._up, args=(link,), daemon=True).start()
            threading.Thread(target=self._down, args=(link,), daemon=True).start()

    def _up(self, link: _Link) -> None:
        while data := _recv(link.client):
            with self._lock:
                if self._marker is not None and self._marker in data:
                    link.doomed = True
            if not _send(link.server, data):
                break
        _close(link)

    def _down(self, link: _Link) -> None:
        while data := _recv(link.server):
            with self._lock:
                if link.doomed and not data.startswith(_EMPTY_ARRAY):
                    self._marker = None
                    link.doomed = False
                    _close(link)
                    self.cut.set()
                    return
                link.doomed = False
            if not _send(link.client, data):
                break
        _close(link)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


def _close(link: _Link) -> None:
    for sock in (link.client, link.server):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
