"""Probes: liveness (`/healthz`) and readiness (`/readyz`, gates Knative cold starts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from functions.api.deps import SubmitterDep
from functions.api.schemas import Health
from functions.api.submit import RedisUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Alive while the process serves requests; checks no dependency on purpose."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request, submitter: SubmitterDep) -> JSONResponse:
    """Ready once the Redis pool and registry are initialised and Redis takes writes."""
    if not getattr(request.app.state, "initialised", False):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    try:
        await submitter.probe()
    except RedisUnavailable:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
