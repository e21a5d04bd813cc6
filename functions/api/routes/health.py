"""Probes: liveness (`/healthz`) and readiness (`/readyz`, Knative's traffic gate).

Readiness depends on Redis until Redis has answered this process once, and not after that. Why,
from Knative Serving's code (knative/serving at knative-v1.15.0, unchanged to v1.23.0):

- queue-proxy runs this endpoint as the revision's readiness probe whenever the kubelet probes
  queue-proxy (`pkg/queue/health/handler.go`, ProbeHandler calls the prober on every probe;
  `pkg/queue/readiness/probe.go`, ProbeContainer). Without periodSeconds each attempt has 100 ms
  (`aggressiveProbeTimeout`), retried every 50 ms for up to 10 s; the kubelet's own probe of
  queue-proxy copies our probe with the Kubernetes defaults, 10 s period, 1 s timeout,
  3 failures (`pkg/reconciler/revision/resources/queue.go`, makeQueueContainer).
- A pod whose probe fails leaves the ready endpoints; when no pod of the revision is ready, the
  SKS forces Proxy mode and the route goes through the activator
  (`pkg/reconciler/serverlessservice/serverlessservice.go`, reconcilePublicEndpoints: "Forcing
  SKS into Proxy mode, insufficient ready endpoints").
- The activator holds each request in the revision's breaker queue (10,000 deep,
  `pkg/activator/net/throttler.go`, breakerQueueDepth, revisionThrottler.try) until a pod is
  ready. A full queue is answered 503 "pending request queue full"
  (`pkg/activator/handler/handler.go`, ServeHTTP); otherwise the revision's timeout handler
  answers 504 "activator request timeout" after responseStartTimeoutSeconds, 50 s here
  (`cmd/activator/main.go`, `pkg/http/handler/timeout.go`). Meanwhile the held requests count as
  concurrency and scale the revision out to max-scale with pods that cannot become ready either.

So if a Redis outage made every pod unready, producers would wait 50 s for a text/plain 504
without Retry-After, instead of our problem document in SPILLWAY_REDIS_TIMEOUT (0.5 s) with
Retry-After, which also tells "nothing was enqueued" from "outcome unknown"; and the pods would
come back only at the kubelet's next 10 s probe after Redis does. A pod that has reached Redis
therefore stays ready, and the body says what is wrong (`degraded`). Before that first answer
it is not ready: a revision with a wrong REDIS_URL or password never takes traffic from the
previous one, and a first deploy waits for Redis. The price: a pod cold-starting while Redis is
down waits in the activator like above (documented in docs/deploy.md).

After the first answer the check is bounded well under queue-proxy's 100 ms, so a Redis that
does not answer cannot fail the probe by timing it out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from functions.api.deps import SubmitterDep
from functions.api.resp import ReplyError
from functions.api.schemas import Health
from functions.api.submit import RedisUnavailable

router = APIRouter(tags=["health"])

# Seconds the check may take once the pod is ready: under queue-proxy's 100 ms per attempt.
REPORT_WITHIN = 0.05


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz() -> Health:
    """Alive while the process serves requests; checks no dependency on purpose."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request, submitter: SubmitterDep) -> JSONResponse:
    """503 until the process is initialised and Redis has answered it once; then 200, with
    `degraded` and the reason while Redis cannot take submits (see the module docstring)."""
    if not getattr(request.app.state, "initialised", False):
        return _answer(503, "starting")
    # Before the first answer, wait the whole deadline: a first connection (TLS, AUTH) may take
    # longer than a probe attempt, and the handler finishes even when the prober has given up.
    timeout = REPORT_WITHIN if submitter.contacted else None
    try:
        await submitter.probe(timeout)
    except (RedisUnavailable, ReplyError) as exc:
        reason = str(exc) or type(exc).__name__
        if not submitter.contacted:
            return _answer(503, "unavailable", reason)
        return _answer(200, "degraded", reason)
    if submitter.misconfigured:  # e.g. SPILLWAY_DURABLE_FSYNC on a Redis without WAITAOF
        return _answer(503, "unavailable", submitter.misconfigured)
    memory = submitter.admission.state()
    if memory is not None:
        return _answer(200, "degraded", memory)
    return _answer(200, "ok")


def _answer(status_code: int, status: str, redis: str | None = None) -> JSONResponse:
    body = Health.model_validate({"status": status, "redis": redis})
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code)
