"""`POST /v1/events`: CloudEvents in (binary, structured, batched), one invocation per event.

The function comes from the registry (`@function(events=[...])`), the event's data is its input,
validated as a direct invocation's body is (same 422), and the reply is a direct invocation's
202. A redelivered event (same `source` and `id`) answers the id it got first and enqueues
nothing (functions/api/eventsubmit.py). A plain Starlette route, like the submits: it carries
the same traffic (functions/api/hotroute.py); the OpenAPI document describes it
(functions/api/openapi.py, `events_path`).

Statuses and Knative Eventing. The broker's dispatcher retries a delivery on 404, 408, 409,
429 and every 5xx, and on no answer; it does not retry any other 4xx, and sends the event to
the Trigger's dead-letter sink at once (knative/eventing knative-v1.22.2,
pkg/kncloudevents/retries.go, `SelectiveRetry`; byte-identical since knative-v1.14.0). The
Eventing spec's data-plane table says the same for 400 and other 4xx. So:
- an event type no function takes is `400 unrouted-event`, not 404: it is permanent for this
  deployment (a Trigger left behind by a removed function, a producer's typo), and a 404 would
  be retried `delivery.retry` times (204 s with the broker defaults) before the same dead
  letter. The dead letter keeps the event for an operator (routes/event_dead_letters.py);
- a bad event (400 `invalid-event`), data that is not JSON (415) or does not fit the model
  (422) are permanent too: not retried, dead-lettered;
- a full backlog (429) and an unavailable Redis (503, with `Retry-After`) are retried, which is
  what they ask for. A lost 202 is retried too, and the redelivery answers the same id.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from functions.api import cloudevent, metrics
from functions.api.admission import MemoryFull
from functions.api.auth import ANONYMOUS, authenticate, require_invoke
from functions.api.callbacks import callback_url
from functions.api.eventsubmit import EventAccepted, EventSubmit, QueueFull, submit_events
from functions.api.finite import NonFinite, refuse_non_finite
from functions.api.hotroute import HotRoute
from functions.api.problems import (
    Problem,
    backlog_full,
    not_enqueued,
    outcome_unknown,
    validation_errors,
)
from functions.api.submit import OutcomeUnknown, RedisUnavailable, Submitter

PATH = "/v1/events"
UNROUTED = "(unrouted)"  # the function label of events no function takes
ACCEPTED = "application/json, application/cloudevents+json, application/cloudevents-batch+json"


def _problem_from(exc: cloudevent.EventError) -> Problem:
    metrics.REJECTED.labels(UNROUTED, exc.slug.replace("-", "_")).inc()
    headers = {"Accept-Post": ACCEPTED} if exc.slug == "unsupported-media-type" else None
    return Problem(exc.slug, exc.detail, errors=exc.errors, headers=headers)


def _submissions(submitter: Submitter, events: list[cloudevent.Event]) -> list[EventSubmit]:
    """Route and validate every event; a Problem names every one that cannot be taken."""
    registry = submitter.registry
    unrouted: list[dict[str, str]] = []
    invalid: list[dict[str, Any]] = []
    items: list[EventSubmit] = []
    for event in events:
        spec = registry.for_event(event.type, event.source)
        if spec is None:
            sources = registry.event_sources(event.type)
            only = f" (only from {', '.join(sources)})" if sources else ""
            where = "/headers/ce-type" if event.mode == "binary" else "/type"
            unrouted.append(
                {
                    "path": event.pointer + where,
                    "message": f"no function takes events of type {event.type!r}{only}",
                    "type": "unrouted",
                }
            )
            continue
        data = cloudevent.data_json(event)
        try:
            refuse_non_finite(data)
            payload = spec.input_model.model_validate_json(data)
        except NonFinite as exc:
            error = {"path": event.data_pointer(), "message": str(exc), "type": "json_invalid"}
            invalid.append(error)
            metrics.REJECTED.labels(spec.name, "invalid").inc()
            continue
        except ValidationError as exc:
            loc = tuple(part for part in event.data_pointer().split("/") if part)
            invalid += validation_errors(exc.errors(include_input=False), loc_prefix=loc)
            metrics.REJECTED.labels(spec.name, "invalid").inc()
            continue
        items.append(
            EventSubmit(
                spec,
                payload.model_dump_json(),
                event.source,
                event.id,
                cloudevent.attributes_json(event),
            )
        )
    if unrouted:
        metrics.REJECTED.labels(UNROUTED, "unrouted").inc(len(unrouted))
        what = unrouted[0]["message"]
        raise Problem(
            "unrouted-event", _summary(unrouted, len(events), what), errors=unrouted + invalid
        )
    if invalid:
        what = "the data is not valid input for the event's function"
        raise Problem("invalid-input", _summary(invalid, len(events), what), errors=invalid)
    return items


def _summary(errors: list[dict[str, Any]], total: int, what: str) -> str:
    if total == 1:
        return what
    bad = {str(e["path"]).split("/")[1] for e in errors}
    return f"{len(bad)} of {total} events cannot be taken ({what}); none was enqueued"


def _rejected(names: set[str], reason: str) -> None:
    for name in names:
        metrics.REJECTED.labels(name, reason).inc()


async def _enqueue(
    submitter: Submitter, items: list[EventSubmit], callback: str | None, tenant: str
) -> EventAccepted:
    settings = submitter.settings
    names = {item.spec.name for item in items}  # for the metrics of a refusal
    try:
        accepted = await submit_events(submitter, items, callback, tenant)
    except MemoryFull as exc:
        _rejected(names, "memory")
        raise not_enqueued(exc, settings) from exc
    except OutcomeUnknown as exc:
        for name in names:
            metrics.OUTCOME_UNKNOWN.labels(name).inc()
        raise outcome_unknown(exc.ids, settings.RETRY_AFTER, exc.detail) from exc
    except RedisUnavailable as exc:
        _rejected(names, "redis_unavailable")
        raise not_enqueued(exc, settings) from exc
    except QueueFull as exc:
        _rejected(names, "backlog")
        raise backlog_full(exc.queue, exc.depth, exc.limit, settings.BACKLOG_RETRY_AFTER) from exc
    for item, replayed in zip(items, accepted.replayed, strict=True):
        if not replayed:
            metrics.submitted(item.spec.name).inc()
    return accepted


async def receive(request: Request) -> Response:
    """Take one CloudEvent (binary or structured) or a batch: 202 with the invocation(s)."""
    submitter: Submitter = request.app.state.submitter
    caller = ANONYMOUS  # who: before the body is read, as every /v1 route
    if submitter.settings.EVENTS_AUTH == "key":
        caller = await authenticate(request.headers, submitter)
    body = await request.body()
    try:
        mode, events = cloudevent.read(request.scope["headers"], body)
    except cloudevent.EventError as exc:
        raise _problem_from(exc) from exc
    batch = mode == "batch"
    limit = submitter.settings.MAX_BATCH
    if batch and len(events) > limit:
        detail = f"a batch holds at most {limit} events, not {len(events)}"
        raise Problem(
            "batch-size", detail, errors=[{"path": "", "message": detail, "type": "too_long"}]
        )
    # As on direct submits: checked before anything is enqueued, kept by every new invocation.
    callback = callback_url(request.headers, submitter.settings)
    items = _submissions(submitter, events)
    for name in sorted({item.spec.name for item in items}):
        require_invoke(caller, name)
    accepted = await _enqueue(submitter, items, callback, caller.tenant)
    if batch:
        content = json.dumps({"ids": accepted.ids}, separators=(",", ":")).encode()
        headers = {"Idempotent-Replayed": "true"} if any(accepted.replayed) else None
        return Response(content, 202, headers, media_type="application/json")
    invocation_id = accepted.ids[0]
    status_url = f"/v1/invocations/{invocation_id}"
    headers = {"Location": status_url}
    status = "queued"
    if accepted.replayed[0]:
        headers["Idempotent-Replayed"] = "true"
        record = await submitter.read(invocation_id)  # RedisUnavailable: the 503 problem
        status = record["status"] if record else status
    # As a direct invocation's 202 (routes/submissions.py): nothing here needs escaping.
    accepted_body = (
        f'{{"id":"{invocation_id}","function":"{items[0].spec.name}",'
        f'"status":"{status}","status_url":"{status_url}"}}'
    )
    return Response(accepted_body.encode(), 202, headers, media_type="application/json")


routes: list[BaseRoute] = [HotRoute(PATH, receive, methods=["POST"], include_in_schema=False)]
