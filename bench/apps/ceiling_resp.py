"""The ceiling (ceiling.py) on Spillway's own RESP client instead of redis-py.

It separates two costs the plain ceiling mixes: what FastAPI and uvicorn cost per request, and
what the Redis client costs. Spillway / this ceiling is the share of the framework-and-client
floor that Spillway's own work (validation, record, message, metrics) leaves.

Run: `REDIS_URL=redis://... uvicorn bench.apps.ceiling_resp:app`.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Response

from bench import payloads
from functions.api.resp import Client

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = "ceiling"
MESSAGE = payloads.ceiling_message()
ACCEPTED = b'{"status":"queued"}'

redis = Client(REDIS_URL, max_connections=256)
app = FastAPI(title="ceiling-resp", telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post(payloads.SUBMIT_PATH)
async def submit() -> Response:
    await redis.execute("LPUSH", QUEUE, MESSAGE)
    return Response(ACCEPTED, status_code=202, media_type="application/json")


@app.get("/readyz")
async def readyz() -> Response:
    await redis.execute("PING")
    return Response(b'{"status":"ok"}', media_type="application/json")
