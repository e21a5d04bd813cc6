"""Cold-start floor: a bare FastAPI app whose /readyz returns 200 without touching anything.

Run: `uvicorn bench.apps.floor:app`.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="floor")


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}
