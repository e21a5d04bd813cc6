"""The functions Spillway ships: handy for smoke tests, load tests and as examples."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from functions.registry import function


class Strict(BaseModel):
    """A model that refuses fields it does not declare."""

    model_config = ConfigDict(extra="forbid")


class EchoPayload(BaseModel):
    """Any JSON object; `echo` returns it unchanged."""

    model_config = ConfigDict(extra="allow")


@function("echo", time_limit=10)
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
