"""Response bodies of the v1 API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from functions.records import Status


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

    event: str  # worker_lost, released, unrecorded, held_back, ...
    at: str | None
    worker: str | None = None


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
