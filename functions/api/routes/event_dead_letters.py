"""`POST /v1/events/dead-letters`: Knative Eventing's dead-letter sink, into Spillway's store.

When a Trigger's delivery to `/v1/events` fails for good (a status it does not retry, or its
retries ran out), the broker sends the original event here with three extension attributes
(knative/eventing knative-v1.22.2, pkg/kncloudevents/attributes/knative_error.go,
`KnativeErrorTransformers`, and pkg/kncloudevents/event_dispatcher.go,
`dispatchExecutionInfoTransformers`):
  knativeerrordest  the URL that failed (the subscriber's, not the broker filter's)
  knativeerrorcode  its HTTP status, or 500 when there was no answer
  knativeerrordata  its response body, base64-encoded and cut to 1024 characters
The event is filed with reason `event_undeliverable` in the queue of the function its type goes
to (the default queue when none), with the event as JSON as its message and the failure as its
error, where `spillway dlq` and /v1/dead-letters see it. The entry's id derives from the event's
`source` and `id`, so the sink's own retries (same `delivery` settings) file it once.

It names no invocation: none was created (or, after a lost 202, its id is the one a redelivery
to /v1/events answers). It cannot be replayed by the store; send the event again, fixed, to
/v1/events. Like /v1/events, it takes no operator credentials: the broker sends it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from functions.api import cloudevent
from functions.api.auth import authenticate, require
from functions.api.deps import SubmitterDep, dead_letter_store
from functions.api.openapi import events_operation
from functions.api.problems import Problem
from functions.registry import DEFAULT_QUEUE

router = APIRouter(prefix="/v1/events", tags=["events"])

REASON = "event_undeliverable"
_ERROR_MAX = 1000
_DOC = events_operation({})
_OPENAPI = {"parameters": _DOC["parameters"], "requestBody": _DOC["requestBody"]}


def entry_id(source: str, event_id: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(source.encode() + b"\x00" + event_id.encode())
    return "ce-" + digest.hexdigest()


def failure(attributes: dict[str, Any]) -> dict[str, Any]:
    """The dead letter's error, from Knative's extensions: where, which status, what it said."""
    dest = str(attributes.get("knativeerrordest") or "?")
    code = str(attributes.get("knativeerrorcode") or "?")
    said = ""
    raw = attributes.get("knativeerrordata")
    if raw:
        try:  # cut to 1024 base64 characters, so maybe not a whole quantum: pad what is there
            text = str(raw)[: len(str(raw)) // 4 * 4]
            said = base64.b64decode(text).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            said = ""
    message = f"Knative could not deliver it to {dest}: HTTP {code}"
    if said:
        message += f": {said}"
    if len(message) > _ERROR_MAX:
        message = message[: _ERROR_MAX - 1] + "…"
    return {"type": f"HTTP {code}" if code != "?" else "Undeliverable", "message": message}


def _message(event: cloudevent.Event) -> str:
    """The event in the JSON format, as it was sent: the attributes and the data."""
    whole: dict[str, Any] = dict(event.attributes)
    if event.body is not None:
        try:
            whole["data"] = json.loads(event.body)
        except ValueError:
            whole["data_base64"] = base64.b64encode(event.body).decode()
    elif event.has_data:
        whole["data"] = event.data
    return json.dumps(whole, ensure_ascii=False, separators=(",", ":"))


@router.post(
    "/dead-letters",
    status_code=202,
    summary="File CloudEvents Knative could not deliver (a Trigger's deadLetterSink)",
    openapi_extra=_OPENAPI,
    responses={400: {"description": "Not a CloudEvent"}, 415: {"description": "Not JSON"}},
)
async def file_undeliverable_events(request: Request, submitter: SubmitterDep) -> JSONResponse:
    if submitter.settings.EVENTS_AUTH == "key":  # as POST /v1/events (routes/events.py)
        require(await authenticate(request.headers, submitter), "invoke")
    try:
        _, events = cloudevent.read(
            request.scope["headers"], await request.body(), json_data_only=False
        )
    except cloudevent.EventError as exc:
        raise Problem(exc.slug, exc.detail, errors=exc.errors) from exc
    store = dead_letter_store(submitter, actor="knative")
    settings = submitter.settings
    filed = []
    for event in events:
        spec = submitter.registry.for_event(event.type, event.source)
        queue = spec.queue if spec else DEFAULT_QUEUE
        fields = {
            "reason": REASON,
            "function": spec.name if spec else None,
            "error": failure(event.attributes),
            "attempts": 0,
        }
        dead_letter = entry_id(event.source, event.id)
        filed_in = await store.file(
            queue,
            dead_letter,
            _message(event),
            fields,
            max_entries=settings.DEAD_LETTER_MAX,
            max_bytes=settings.DEAD_LETTER_MAX_BYTES,
            record_ttl=settings.RESULT_TTL,
        )
        filed.append({"id": dead_letter, "queue": filed_in})
    return JSONResponse({"dead_letters": filed}, status_code=202)
