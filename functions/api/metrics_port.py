"""`GET /metrics` on a port of its own (SPILLWAY_API_METRICS_PORT), for Prometheus.

Under Knative every request should reach the app through queue-proxy, which enforces
`containerConcurrency`, counts the request for the autoscaler and drains on shutdown. Prometheus
scraping the app's own port would mean the monitoring namespace reaches the whole API around
queue-proxy, and a NetworkPolicy admits ports, not paths: so the metrics get a port that serves
nothing else (platform/networkpolicy.yaml admits Prometheus there only). Scrapes through
queue-proxy instead would count as traffic and keep the API from ever scaling to zero.

A few lines of HTTP/1.1 on asyncio rather than a second uvicorn: one request per connection, a
bounded request head, and a deadline, so a client that sends nothing costs one idle task for
`TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("spillway.api")

TIMEOUT = 5.0  # seconds to read a request and write the answer
_HEAD_LIMIT = 8192  # bytes of request line and headers


def _answer(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def start(
    host: str, port: int, render: Callable[[], Awaitable[bytes]]
) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
                parts = head.split(b"\r\n", 1)[0].split()
                if len(parts) == 3 and parts[1].split(b"?")[0] == b"/metrics":
                    if parts[0] == b"GET":
                        answer = _answer("200 OK", CONTENT_TYPE_LATEST, await render())
                    else:
                        answer = _answer("405 Method Not Allowed", "text/plain", b"GET only\n")
                else:
                    answer = _answer("404 Not Found", "text/plain", b"only /metrics here\n")
                writer.write(answer)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a silent, slow or oversized client: just close
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, limit=_HEAD_LIMIT)
    log.info("metrics on :%d (/metrics only)", port)
    return server
