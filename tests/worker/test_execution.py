"""The plain functions behind the Celery task: calling a function and judging its outcome."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from functions.builtins import EchoPayload
from functions.registry import FunctionSpec, RetryPolicy, registry
from functions.settings import Settings
from functions.worker.execution import attempt, call_function, describe


class Flaky(Exception):
    pass


def _raise(exc: BaseException) -> None:
    raise exc


def _spec(fn: Callable[[Any], Any], retry: RetryPolicy | None = None) -> FunctionSpec:
    return FunctionSpec("t", fn, EchoPayload, EchoPayload, retry=retry or RetryPolicy())


def test_call_function_validates_both_ways() -> None:
    spec = registry.get("process-data")
    assert spec is not None
    assert call_function(spec, {"user_id": 1, "data": "d"}) == {
        "status": "success",
        "result": "Processed d for user 1",
    }
    with pytest.raises(ValidationError):
        call_function(spec, {"user_id": "x"})


def test_builtin_cpu_and_sleep_do_what_they_say() -> None:
    cpu, sleep = registry.get("cpu"), registry.get("sleep")
    assert cpu is not None and sleep is not None
    started = time.process_time()
    assert call_function(cpu, {"milliseconds": 100})["iterations"] > 0
    busy = time.process_time() - started
    started, wall = time.process_time(), time.perf_counter()
    assert call_function(sleep, {"seconds": 0.1}) == {"slept": 0.1}
    idle = time.process_time() - started
    assert time.perf_counter() - wall >= 0.1
    # cpu burns CPU time, sleep does not. Relative, not absolute: on a machine shared with
    # other work the 100 ms of wall time may get only a few ms of CPU.
    assert busy > max(5 * idle, 0.002), (busy, idle)


def test_a_result_is_stored_as_compact_json() -> None:
    outcome = attempt(_spec(lambda p: p), {"a": [1, 2]}, 0, Settings())
    assert (outcome.status, outcome.field, outcome.value) == ("succeeded", "result", '{"a":[1,2]}')
    assert outcome.dead_letter is None and outcome.reraise is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_result_is_a_failure_of_the_function(bad: float) -> None:
    outcome = attempt(_spec(lambda p: {"x": bad}), {}, 0, Settings())
    assert outcome.status == "failed"
    assert "non-finite number" in outcome.value and outcome.dead_letter is not None


def test_a_result_over_the_limit_is_a_failure_of_the_function() -> None:
    outcome = attempt(_spec(lambda p: {"x": "y" * 100}), {}, 0, Settings(MAX_RESULT_BYTES=50))
    assert outcome.status == "failed" and "SPILLWAY_MAX_RESULT_BYTES=50" in outcome.value


def test_a_retryable_error_schedules_a_retry_until_attempts_run_out() -> None:
    policy = RetryPolicy(attempts=3, on=(Flaky,), backoff=1, jitter=False)
    spec = _spec(lambda p: _raise(Flaky("later")), policy)
    first = attempt(spec, {}, 0, Settings())
    assert (first.status, first.retry_after, first.error) == ("retrying", 1.0, "Flaky: later")
    assert attempt(spec, {}, 1, Settings()).retry_after == 2.0
    last = attempt(spec, {}, 2, Settings())
    assert last.status == "failed" and last.retry_after is None
    reason, error = last.dead_letter or ("", "{}")
    detail = json.loads(error)
    assert reason == "retries_exhausted" and detail["type"] == "Flaky"
    assert detail["message"] == "later" and "in _raise" in detail["traceback"][-1]


def test_a_failure_never_echoes_the_payload() -> None:
    class Strict(BaseModel):
        n: int

    spec = FunctionSpec("t", lambda p: p, Strict, Strict)
    outcome = attempt(spec, {"n": "secret-value-123"}, 0, Settings())
    assert outcome.status == "failed" and "n: Input should be a valid integer" in outcome.value
    assert "secret-value-123" not in outcome.value
    assert "secret-value-123" not in (outcome.dead_letter or ("", ""))[1]


def test_describe_names_the_error_in_one_bounded_line() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert describe(TimeoutError()) == "TimeoutError"
    assert len(describe(ValueError("x" * 5000))) == 1000


def test_a_validation_failure_is_reported_to_celery_without_the_input() -> None:
    """The task raises the failure again for Celery's task-failed event and log, which carry
    the exception's repr and its formatted traceback (celery/worker/request.py
    Request.on_failure, celery/app/trace.py): neither may quote the input."""
    import traceback as tb

    class Strict(BaseModel):
        n: int

    spec = FunctionSpec("t", lambda p: {"n": p.n + "-leak"}, EchoPayload, Strict)
    outcome = attempt(spec, {"n": "secret-value-123"}, 0, Settings())
    assert outcome.status == "failed" and outcome.reraise is not None
    shown = repr(outcome.reraise) + "".join(tb.format_exception(outcome.reraise))
    assert "secret-value-123" not in shown and "n: Input should be a valid integer" in shown
    assert json.loads((outcome.dead_letter or ("", "{}"))[1])["type"] == "ValidationError"
