"""Response bodies of the v1 API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.records import Status

DeadLetterReason = Literal[
    "retries_exhausted",
    "poison",
    "malformed",
    "unknown_task",
    "expired",
    "callback_failed",
    "event_undeliverable",
]


class InvocationAccepted(BaseModel):
    """202 for one invocation: it is queued; poll `status_url` for its state."""

    id: str
    function: str
    status: Status
    status_url: str


class BatchAccepted(BaseModel):
    """202 for a batch: the ids of every item, in the order they were sent."""

    ids: list[str]


class HistoryEvent(BaseModel):
    """Something that happened to an invocation besides a plain attempt."""

    event: str  # worker_lost, released, unrecorded, held_back, replayed, ...
    at: str | None
    worker: str | None = None
    detail: Any = None  # held_back: the task name; replayed: the error it had, and more


class QueuePosition(BaseModel):
    """Where a queued invocation stands (estimates: functions/api/position.py)."""

    position: int | None = Field(description="1: the next its queue hands out")
    drain_rate: float | None = Field(description="Invocations/s its queue drained at lately")
    estimated_start_at: str | None = Field(description="When it should start, at that rate")


class CallbackState(BaseModel):
    """Where the invocation's callback is: `pending` until delivered or failed for good."""

    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = None  # the receiver's last HTTP status, if it answered
    error: str | None = None  # why the last attempt failed
    delivered_at: str | None = None


class Invocation(BaseModel):
    """The state of one invocation; `result` once it succeeded, `error` once it failed."""

    id: str
    function: str
    status: Status
    result: Any = None
    error: str | None = None
    attempts: int
    submitted_at: str | None
    started_at: str | None
    finished_at: str | None
    history: list[HistoryEvent] = []
    dead_letter: str | None = None
    event: dict[str, Any] | None = Field(
        default=None,
        description="The CloudEvent's attributes (all but its data) when it was submitted as "
        "one at /v1/events; null otherwise.",
    )
    queue: QueuePosition | None = Field(
        default=None, description="Only while it is queued: its position and estimated start."
    )
    callback: CallbackState | None = None  # with an X-Callback-Url only


class FunctionPublic(BaseModel):
    """A registered function: its queue and the JSON Schemas of its input and output."""

    name: str
    queue: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class FunctionsPublic(BaseModel):
    """The catalog: every registered function."""

    functions: list[FunctionPublic]


class Health(BaseModel):
    """A probe's answer: `redis` says what is wrong when the status is not `ok`."""

    status: Literal["ok", "degraded", "starting", "unavailable"]
    redis: str | None = None


class ProblemDetails(BaseModel):
    """An error, as an RFC 9457 problem document: `type` is `urn:spillway:problem:<slug>`
    (README, "Problem types"); `errors` points at each invalid input with a JSON pointer."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class DeadLetterFailure(BaseModel):
    """Why a message was dead-lettered: the error's type and message, never the payload."""

    type: str | None = None
    message: str | None = None


class DeadLetterFailureDetail(DeadLetterFailure):
    """The error, and where it was raised: file:line in function, per frame (no values)."""

    traceback: list[str] | None = None


class DeadLetterSummary(BaseModel):
    """A dead letter as listed: no message, no traceback."""

    id: str
    invocation_id: str | None = None  # none for a message that named no invocation
    function: str | None = None
    queue: str
    reason: str  # retries_exhausted, poison, malformed, unknown_task, expired, callback_failed,
    # event_undeliverable
    error: DeadLetterFailure = DeadLetterFailure()
    attempts: int = 0
    first_failed_at: str | None = None
    last_failed_at: str | None = None


class DeadLetterPage(BaseModel):
    """One page of dead letters; pass `next_cursor` back as `cursor` for the next (null: done).
    A page may be short, even empty, and still have a next cursor."""

    items: list[DeadLetterSummary]
    next_cursor: str | None


class DeadLetter(DeadLetterSummary):
    """A whole dead letter: the message as it was on the queue, and where it failed last."""

    error: DeadLetterFailureDetail = DeadLetterFailureDetail()
    message: str
    tenant: str | None = None
    worker: str | None = None
    truncated: bool = False  # the message was cut to fit the store (message_bytes long)
    message_bytes: int | None = None


class ReplayRequest(BaseModel):
    """Replay with a corrected payload, validated against the function's input model (omit
    the body to replay the original message)."""

    model_config = ConfigDict(extra="forbid")
    payload: Any = None


class ReplayAccepted(BaseModel):
    """202: the invocation is queued again as a new attempt, under its own id."""

    id: str
    status: Status
    status_url: str


class DeadLetterSelection(BaseModel):
    """Which dead letters a bulk replay or purge takes: the filters (all given must match),
    or `all`; at most `limit` of them."""

    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(default=None, max_length=200)
    function: str | None = Field(default=None, max_length=200)
    reason: DeadLetterReason | None = None
    all: bool = False
    limit: int = Field(default=1000, ge=1, le=10_000)


class BulkReplayed(BaseModel):
    """202: what a bulk replay queued, and what it left and why (`not_failed`, ...)."""

    replayed: int
    invocation_ids: list[str]
    skipped: dict[str, int]
    more: bool  # the limit was reached: more entries match


class Purged(BaseModel):
    """What a purge deleted; `more` when the limit was reached and more entries match."""

    deleted: int
    more: bool
