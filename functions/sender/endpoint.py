"""The sender's HTTP endpoint on SPILLWAY_SENDER_HTTP_PORT: `/healthz` and `/metrics`.

`/healthz` is 200 while the sender's sweep (which renews its lease) reached Redis within one
lease period: a sender cut off from Redis for longer has had its deliveries given to another
sender, and a restart serves as well as waiting. An asyncio server in
the sender's own loop: nothing to install, no thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


async def serve(port: int, last_sweep: Callable[[], float], max_age: float) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = line.split(b" ")[1] if line.count(b" ") >= 2 else b""
            if path in (b"/healthz", b"/readyz"):
                age = time.monotonic() - last_sweep()
                ok = age <= max_age
                status = 200 if ok else 503
                body = json.dumps({"status": "ok" if ok else "stale", "sweep_age": round(age, 1)})
                payload, content_type = body.encode(), "application/json"
            elif path == b"/metrics":
                status, payload, content_type = 200, generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, payload, content_type = 404, b'{"status":"not found"}', "application/json"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (OSError, TimeoutError, IndexError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "0.0.0.0", port)
