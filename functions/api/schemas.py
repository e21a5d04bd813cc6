"""Response bodies of the v1 API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from functions.records import Status


# 202 for one invocation.
class InvocationAccepted(BaseModel):
    id: str
    function: str
    status: Status
    status_url: str


# 202 for a batch.
class BatchAccepted(BaseModel):
    ids: list[str]


class HistoryEvent(BaseModel):
    """Something that happened to an invocation besides a plain attempt."""

    event: str  # worker_lost, released, unrecorded, held_back, ...
    at: str | None
    worker: str | None = None


# The state of one invocation.
class Invocation(BaseModel):
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


# One entry of the catalog.
class FunctionPublic(BaseModel):
    name: str
    queue: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class FunctionsPublic(BaseModel):
    functions: list[FunctionPublic]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]


# RFC 9457 problem document (documented so clients and fuzzers know the error shape).
class ProblemDetails(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
