"""HTTP over a raw socket: one GET or POST on a fresh connection, and waiting for a 200.

No client library: the probe must cost the same, and import nothing, in every section.
"""

from __future__ import annotations

import socket
import time

from bench.harness.processes import BenchError, Proc


def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of one GET over a fresh connection, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(256)
                if not chunk:
                    return None
                head += chunk
            return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def wait_ok(
    port: int, path: str, proc: Proc, timeout: float = 30.0, interval: float = 0.002
) -> float:
    """Poll until GET `path` answers 200; the perf_counter time it first did."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if http_status(port, path) == 200:
            return time.perf_counter()
        if not proc.alive():
            raise BenchError(f"{proc.name} exited before {path} answered:\n{proc.log_tail()}")
        time.sleep(interval)
    raise BenchError(f"{proc.name}: {path} not 200 within {timeout:g}s:\n{proc.log_tail()}")


def http_post(
    port: int, path: str, body: bytes, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]
