"""Running the user's function for one invocation, and what its outcome means.

`call_function` validates the input, calls the function and validates its output. `attempt` runs
it once and says what to record: a result, a retry after a backoff, or a failure (and whether it
is final, which dead-letters it). None of this needs a broker or Redis, so it is tested directly.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, ValidationError

from functions import context
from functions.registry import FunctionSpec
from functions.settings import Settings
from functions.worker.inflight import error_json

# Longest error text kept in a record or a dead letter.
_ERROR_MAX = 1000


class ResultError(ValueError):
    """A result that cannot be stored: not finite, or too large."""


class InvalidData(ValueError):
    """A pydantic ValidationError, told without the input values it quotes.

    The task raises the failure again so that Celery reports it (task-failed event, log), and
    Celery puts the exception's repr and its traceback, causes included, into both: a
    ValidationError's text quotes the offending input (`input_value=...`), which every event
    consumer would see. This carries `describe`'s summary and no cause."""


def call_function(spec: FunctionSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate `payload`, call the function, validate and dump its output."""
    model = spec.input_model.model_validate(payload)
    output = spec.fn(model)
    if inspect.isawaitable(output):
        output = asyncio.run(_awaited(output))
    if not isinstance(output, BaseModel):
        output = spec.output_model.model_validate(output)
    # pydantic's JSON mode writes NaN and Infinity as null (ser_json_inf_nan="null"), which
    # would store a different result than the function returned: refuse them instead.
    _refuse_non_finite(output.model_dump(mode="python"))
    dumped: dict[str, Any] = output.model_dump(mode="json")
    return dumped


def _refuse_non_finite(value: Any) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ResultError(
                "the result holds a non-finite number (NaN or Infinity), which JSON cannot carry"
            )
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_non_finite(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_non_finite(item)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def encode_result(result: dict[str, Any], max_bytes: int) -> str:
    text = json.dumps(result, separators=(",", ":"))
    if len(text.encode()) > max_bytes:
        raise ResultError(
            f"the result is {len(text.encode())} bytes as JSON, over SPILLWAY_MAX_RESULT_BYTES"
            f"={max_bytes}: store large outputs elsewhere and return a reference"
        )
    return text


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to, and what to write."""

    status: str  # succeeded | failed | cancelled (final) | retrying
    value: str  # the result as JSON, or the error line
    label: str  # spillway_task_outcomes_total{outcome}
    duration: float
    retry_after: float | None = None
    dead_letter: tuple[str, str] | None = None  # (reason, error JSON) of a final failure
    reraise: BaseException | None = None  # raised again so Celery reports the failure

    @property
    def field(self) -> str:
        return "result" if self.status == "succeeded" else "error"

    @property
    def error(self) -> str:
        return "" if self.status == "succeeded" else self.value


def attempt(
    spec: FunctionSpec, payload: dict[str, Any], retries: int, settings: Settings
) -> Outcome:
    """Run the function once; `retries` counts the retries already made."""
    started = time.perf_counter()
    try:
        with context.running(retries):  # what functions.context.retries() says in the call
            output = call_function(spec, payload)
        text = encode_result(output, settings.MAX_RESULT_BYTES)
    except SoftTimeLimitExceeded as exc:
        error = f"TimeLimitExceeded: time limit of {spec.time_limit:g}s"
        return _failed(error, "timeout", started, exc, "TimeLimitExceeded")
    except Exception as exc:
        error = describe(exc)
        if spec.retry.retryable(exc) and retries + 1 < spec.retry.attempts:
            return Outcome(
                status="retrying",
                value=error,
                label="retried",
                duration=time.perf_counter() - started,
                retry_after=spec.retry.delay(retries),
            )
        return _failed(error, "failed", started, _reportable(exc, error), type(exc).__name__)
    return Outcome(
        status="succeeded", value=text, label="succeeded", duration=time.perf_counter() - started
    )


def cancelled(exc: BaseException, started: float) -> Outcome:
    """A run stopped by a cancel (functions/worker/interrupt.py): final, not a failure."""
    return Outcome(
        status="cancelled",
        value=f"Cancelled: {exc}",
        label="cancelled",
        duration=time.perf_counter() - started,
    )


def _failed(error: str, label: str, started: float, exc: BaseException, kind: str) -> Outcome:
    message = error.partition(": ")[2] or error
    return Outcome(
        status="failed",
        value=error,
        label=label,
        duration=time.perf_counter() - started,
        dead_letter=("retries_exhausted", error_json(kind, message, frames(exc))),
        reraise=exc,
    )


def _reportable(exc: BaseException, error: str) -> BaseException:
    """`exc`, or for a ValidationError an InvalidData with the same traceback and no input."""
    if not isinstance(exc, ValidationError):
        return exc
    hidden = InvalidData(error).with_traceback(exc.__traceback__)
    hidden.__suppress_context__ = True
    return hidden


def frames(exc: BaseException, limit: int = 10) -> list[str]:
    """Where an exception was raised: file, line and function per frame, no values."""
    return [
        f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)[-limit:]
    ]


def describe(exc: BaseException) -> str:
    """One line for the record: the error's type and message, never the payload.

    pydantic's messages quote the input (`input_value=...`), so validation errors are summed up
    by location and message only.
    """
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        text = f"{exc.error_count()} validation error(s): " + "; ".join(parts)
    else:
        text = str(exc)
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= _ERROR_MAX else line[: _ERROR_MAX - 1] + "…"
