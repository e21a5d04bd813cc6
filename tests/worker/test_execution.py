"""Running a function for the Celery task: validation both ways, and the error text."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from functions.registry import registry
from functions.worker.execution import call_function, describe


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
    # cpu burns CPU time, sleep does not (thresholds loose: the machine may be shared).
    assert busy > 0.02 > idle


def test_describe_names_the_error() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert describe(TimeoutError()) == "TimeoutError"
