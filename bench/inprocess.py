"""`python -m bench.inprocess MODULE:APP [N] [--profile]`: per-request cost without HTTP.

Calls the ASGI app directly (lifespan started, uvloop, a private Redis) with the submit request
of bench/payloads.py, N times in a row, and prints microseconds per request; `--profile` adds a
cProfile listing (inflates small calls; for proportions prefer py-spy on this command:
`py-spy record -r 400 --format raw -o out.txt -- python -m bench.inprocess ...`). Not part of
bench/run: it separates the app's own cost from uvicorn's HTTP handling.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import os
import pstats
import time
from typing import Any

from bench import payloads
from functions.localredis import RedisServer


def scope() -> dict[str, Any]:
    body = payloads.body()
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": payloads.SUBMIT_PATH,
        "raw_path": payloads.SUBMIT_PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


async def drive(app: Any, n: int, profile: bool) -> None:
    body = payloads.body()
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async with app.router.lifespan_context(app):
        for _ in range(300):  # warm-up
            await app(scope(), receive, send)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(n):
            await app(scope(), receive, send)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
    print(f"{1e6 * elapsed / n:.0f} us per request in-process, statuses {sorted(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.inprocess")
    parser.add_argument("app", help="module:attribute, e.g. functions.api.main:app")
    parser.add_argument("n", type=int, nargs="?", default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    server = RedisServer().start()
    try:
        os.environ["REDIS_URL"] = server.url
        os.environ["SPILLWAY_MAX_BACKLOG"] = "1000000000"
        module, _, attr = args.app.partition(":")
        app = getattr(importlib.import_module(module), attr or "app")
        try:
            import uvloop

            uvloop.run(drive(app, args.n, args.profile))
        except ImportError:
            asyncio.run(drive(app, args.n, args.profile))
    finally:
        server.close()


if __name__ == "__main__":
    main()
