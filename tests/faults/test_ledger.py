"""The fault ledger's own rules, on made-up evidence: it must flag what it exists to flag."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.ledger import OUTCOME_UNKNOWN, classify
from tests.support.observer import Observer, progress
from tests.support.runs import Fault, Run, overlapping, unexplained_runs

KILL = Fault("kill -9", start=100.0, end=100.1, reach=4.0)
CRASH = Fault("Redis crash", start=100.0, end=101.0, loses_data=True)


def test_a_rerun_needs_a_run_cut_short_while_a_fault_struck() -> None:
    cut = {1: Run(7, 99.0, 100.05, ended=False), 2: Run(8, 104.0, 105.0, ended=True)}
    assert unexplained_runs(cut, 1, [KILL]) == 0
    assert unexplained_runs(cut, 1, []) == 1  # no fault noted: a plain duplicate
    late = {1: Run(7, 99.0, 110.0, ended=False), 2: Run(8, 111.0, 112.0, ended=True)}
    assert unexplained_runs(late, 1, [KILL]) == 1  # cut short long after the fault


def test_two_completed_runs_are_a_duplicate_unless_writes_were_lost() -> None:
    twice = {1: Run(7, 99.0, 99.5, ended=True), 2: Run(8, 104.0, 104.5, ended=True)}
    assert unexplained_runs(twice, 1, [KILL]) == 1
    assert unexplained_runs(twice, 1, [CRASH]) == 0
    after = {1: Run(7, 102.0, 102.5, ended=True), 2: Run(8, 104.0, 104.5, ended=True)}
    assert unexplained_runs(after, 1, [CRASH]) == 1  # both ran after the crash


def test_runs_a_function_retries_on_purpose_are_expected() -> None:
    retried = {1: Run(7, 1.0, 1.1, ended=True), 2: Run(7, 3.0, 3.1, ended=True)}
    assert unexplained_runs(retried, 2, []) == 0


def test_overlapping_runs_are_found() -> None:
    runs = {1: Run(7, 1.0, 5.0, False), 2: Run(8, 4.0, 6.0, True), 3: Run(8, 6.5, 7.0, True)}
    assert overlapping(runs) == [(1, 2)]


def _record(status: str, attempts: int, history: int = 0, result: Any = None) -> dict[str, Any]:
    return {
        "status": status,
        "attempts": attempts,
        "history": [{"event": "released"}] * history,
        "result": result,
        "error": None,
        "finished_at": "2026-01-01T00:00:00Z" if status == "succeeded" else None,
    }


def test_progress_allows_requeues_and_retries_but_not_going_back() -> None:
    order = [
        _record("queued", 0),
        _record("running", 1),
        _record("queued", 1, history=1),  # requeued: its history says why
        _record("running", 2, history=1),
        _record("retrying", 2, history=1),
        _record("running", 3, history=1),
        _record("succeeded", 3, history=1),
    ]
    keys = [progress(r) for r in order]
    assert keys == sorted(keys)
    assert progress(_record("queued", 1)) < progress(_record("running", 1))
    # Once finished, even a newer attempt running again is a step back.
    assert progress(_record("running", 2)) < progress(_record("succeeded", 1))


def test_the_observer_flags_records_that_move_back_or_vanish() -> None:
    observer = Observer("redis://127.0.0.1:9/0")  # never sampled: nothing is watched
    try:
        observer._compare("a", _record("running", 1))
        observer._compare("a", _record("succeeded", 1, result={"calls": 1}))
        observer._compare("a", _record("succeeded", 1, result={"calls": 2}))
        observer._compare("b", _record("running", 2))
        observer._compare("b", _record("queued", 1))
        observer._compare("c", _record("running", 1))
        observer._compare("c", None)
        observer._compare("d", _record("succeeded", 1))
        observer._compare("d", None)  # expired after it finished: fine
    finally:
        observer.stop()
    assert [r.split(":")[0] for r in observer.regressed] == ["a", "b", "c"]


def _response(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_answers_are_sorted_by_what_they_promise() -> None:
    assert classify(_response(202, {"id": "x"})) == ("acknowledged", ["x"])
    assert classify(_response(422, {"detail": "bad"})) == ("rejected", [])
    assert classify(_response(429, {"detail": "full"})) == ("rejected", [])
    refused = {"detail": "the queue is unavailable; nothing was enqueued"}
    assert classify(_response(503, refused)) == ("rejected", [])
    unknown = {"type": OUTCOME_UNKNOWN, "detail": "sent, no answer", "ids": ["x", "y"]}
    assert classify(_response(503, unknown)) == ("unknown", ["x", "y"])
    assert classify(_response(500, {"detail": "internal error"})) == ("unknown", [])
    assert classify(_response(502, {})) == ("unknown", [])
