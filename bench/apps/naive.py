"""Baseline: FastAPI + Celery in the common naive style.

What most tutorials and many production services do: an `async def` endpoint validates the body
with a pydantic model and calls `task.delay()` (a synchronous publish through kombu, inside the
event loop), status comes from `AsyncResult`, and readiness pings Redis through the app's only
Redis client (Celery's result backend). Celery is configured plainly: Redis broker and result
backend, JSON serializer. The task has Spillway's task name so the same worker could run it.

Run: `REDIS_URL=redis://... uvicorn bench.apps.naive:app`.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from fastapi import FastAPI

from functions.builtins import ProcessDataInput  # the very input model Spillway validates

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

celery_app = Celery("naive", broker=REDIS_URL, backend=REDIS_URL)
celery_app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)


@celery_app.task(name="spillway.process-data")
def process_data(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "success",
        "result": f"Processed {payload['data']} for user {payload['user_id']}",
    }


app = FastAPI(title="naive baseline")


@app.post("/v1/functions/process-data/invocations", status_code=202)
async def submit(payload: ProcessDataInput) -> dict[str, Any]:
    task = process_data.delay(payload.model_dump())
    return {
        "id": task.id,
        "function": "process-data",
        "status": "queued",
        "status_url": f"/v1/invocations/{task.id}",
    }


@app.get("/v1/invocations/{task_id}")
async def status(task_id: str) -> dict[str, Any]:
    result: AsyncResult[Any] = AsyncResult(task_id, app=celery_app)
    return {
        "id": task_id,
        "status": result.status,
        "result": result.result if result.successful() else None,
    }


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    celery_app.backend.client.ping()  # type: ignore[attr-defined]  # the Redis backend's client
    return {"status": "ok"}
