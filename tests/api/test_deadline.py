"""A slow body gets a 408 (functions/api/deadline.py), through real uvicorn: a slowloris
client that trickles its body, or sends none, is cut off at SPILLWAY_BODY_TIMEOUT, while a
?wait longer than that is not."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
import redis

from tests.support.processes import Proc

pytestmark = pytest.mark.e2e


def slow_request(url: str, body: bytes, per_byte: float, limit: float) -> tuple[bytes, float]:
    """Send headers at once, then the body a byte at a time; return what came back and when."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=limit) as conn:
        conn.sendall(
            b"POST /v1/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body) + 100).encode()  # promises more than it ever sends
            + b"\r\n\r\n"
        )
        conn.settimeout(per_byte)
        answer = b""
        for byte in body:
            try:
                conn.sendall(bytes([byte]))
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        conn.settimeout(limit)
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer, time.monotonic() - started


def test_a_trickled_body_is_cut_off_with_a_408(
    redis_url: str, redis_client: redis.Redis, api_factory: Callable[..., Proc]
) -> None:
    api = api_factory(redis_url, SPILLWAY_BODY_TIMEOUT="1")
    answer, took = slow_request(api.url, b'{"a": "' + b"x" * 40 + b'"}', 0.2, 10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in head and b"connection: close" in head.lower()
    assert b"urn:spillway:problem:request-timeout" in body
    assert took < 5, took  # cut off near 1 s, not when the client gives up
    assert redis_client.llen("spillway") == 0
    # A body that never starts is cut off the same way.
    answer, _ = slow_request(api.url, b"", 0.2, 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    # A wait longer than the body deadline is not cut: its body arrived in time.
    waited = httpx.post(
        f"{api.url}/v1/functions/sleep/invocations?wait=2", json={"seconds": 0}, timeout=10
    )
    assert waited.status_code == 202, waited.text
    assert httpx.get(f"{api.url}/healthz").status_code == 200
