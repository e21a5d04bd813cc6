"""The functions Spillway ships: handy for smoke tests, load tests and as examples.

`fail` and `fail-transiently` fail on request, so a new user sees a `failed` record with its
dead letter, and a retry, without writing a function first.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from functions.context import retries
from functions.registry import RetryPolicy, function


class Strict(BaseModel):
    """A model that refuses fields it does not declare."""

    model_config = ConfigDict(extra="forbid")


class EchoPayload(BaseModel):
    """Any JSON object; `echo` returns it unchanged."""

    model_config = ConfigDict(extra="allow")


@function("echo", time_limit=10, events=["dev.spillway.echo"])
def echo(payload: EchoPayload) -> EchoPayload:
    """Return the input object unchanged."""
    return payload


class SleepInput(Strict):
    """How long `sleep` waits."""

    seconds: float = Field(ge=0, le=300, description="How long to wait, in seconds.")


class SleepOutput(Strict):
    """How long `sleep` waited."""

    slept: float


@function("sleep", time_limit=330)
def sleep(payload: SleepInput) -> SleepOutput:
    """Wait without using CPU, like a call to a slow service."""
    time.sleep(payload.seconds)
    return SleepOutput(slept=payload.seconds)


class CpuInput(Strict):
    """How long `cpu` keeps a core busy."""

    milliseconds: int = Field(ge=0, le=60_000, description="How long to keep one core busy.")


class CpuOutput(Strict):
    """How long `cpu` ran, and how many loop iterations that took."""

    milliseconds: int
    iterations: int


@function("cpu", time_limit=90)
def cpu(payload: CpuInput) -> CpuOutput:
    """Keep one core busy for the given time."""
    deadline = time.perf_counter() + payload.milliseconds / 1000
    iterations, x = 0, 1
    while time.perf_counter() < deadline:
        for _ in range(1000):
            x = (x * 1_103_515_245 + 12_345) & 0x7FFFFFFF
        iterations += 1000
    return CpuOutput(milliseconds=payload.milliseconds, iterations=iterations)


class ProcessDataInput(Strict):
    """A user's data for `process-data`."""

    user_id: int
    data: str = Field(max_length=65_536)


class ProcessDataOutput(Strict):
    """What `process-data` did."""

    status: str
    result: str


@function("process-data", time_limit=30)
def process_data(payload: ProcessDataInput) -> ProcessDataOutput:
    """Process a user's data and report what was done."""
    return ProcessDataOutput(
        status="success", result=f"Processed {payload.data} for user {payload.user_id}"
    )


class FailInput(Strict):
    """What `fail` fails with."""

    message: str = Field(
        default="failed on request", max_length=1000, description="The error's message."
    )


class Nothing(Strict):
    """No output: the function never returns one."""


class FailedOnRequest(Exception):
    """Raised by `fail`: not retryable, so the invocation fails for good and is dead-lettered."""


@function("fail", time_limit=10)
def fail(payload: FailInput) -> Nothing:
    """Fail at once, for good: the record says `failed` and the dead-letter store keeps it."""
    raise FailedOnRequest(payload.message)


class TransientFailure(Exception):
    """Raised by `fail-transiently` while it has failures left: retried with backoff."""


class FailTransientlyInput(Strict):
    """How many runs of `fail-transiently` fail before one succeeds."""

    failures: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Runs that fail before one succeeds; with 4 or more, every attempt fails "
        "and the invocation is failed and dead-lettered.",
    )


class FailTransientlyOutput(Strict):
    """Which run succeeded."""

    attempt: int = Field(description="1 for the first run, 2 after one retry, ...")


@function(
    "fail-transiently",
    time_limit=10,
    retry=RetryPolicy(attempts=4, on=(TransientFailure,), backoff=0.5, backoff_max=2.0),
)
def fail_transiently(payload: FailTransientlyInput) -> FailTransientlyOutput:
    """Fail the first `failures` runs with a retryable error, then succeed: the record goes
    queued, running, retrying, ... succeeded (4 attempts at most)."""
    done = retries()
    if done < payload.failures:
        raise TransientFailure(f"failure {done + 1} of {payload.failures}, on request")
    return FailTransientlyOutput(attempt=done + 1)
