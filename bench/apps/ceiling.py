"""Ceiling: the least a submit endpoint can do, one async LPUSH of a pre-built message.

The message is built once, at import, with Spillway's own builder for the benchmark payload, so it
has exactly the size of the message Spillway enqueues for the same request. No validation, no
record, no metrics, no telemetry: what is left is uvicorn + FastAPI routing + one Redis round
trip through redis-py, the client such an endpoint would usually use. `ceiling_resp.py` is the
same endpoint on Spillway's own RESP client.

Run: `REDIS_URL=redis://... uvicorn bench.apps.ceiling:app`.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI, Response
from redis.asyncio import Redis

from bench import payloads

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = "ceiling"
# Built for Spillway's queue name (so the size matches to the byte), pushed to its own list.
MESSAGE = payloads.ceiling_message()
ACCEPTED = json.dumps({"status": "queued"}).encode()

redis = Redis.from_url(REDIS_URL, max_connections=256)
# Without FastAPI's per-request OpenTelemetry provider lookup, as Spillway runs by default.
app = FastAPI(title="ceiling", telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post(payloads.SUBMIT_PATH)
async def submit() -> Response:
    await redis.lpush(QUEUE, MESSAGE)
    return Response(ACCEPTED, status_code=202, media_type="application/json")


@app.get("/readyz")
async def readyz() -> Response:
    await redis.ping()
    return Response(b'{"status":"ok"}', media_type="application/json")
