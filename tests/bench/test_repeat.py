"""The benchmarks' repeat policy: disturbed rounds run again, a bounded number of times, and the
figures keep the clean ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.harness.interference import OTHERS_LIMIT_PCT
from bench.harness.repeat import (
    ROUND_ATTEMPTS,
    all_clean,
    clean_only,
    clean_round,
    clean_run,
    kept_rounds,
)


def _runs(*others_pct: float) -> Iterator[dict[str, Any]]:
    """Results of successive attempts, each reporting how much of the server's CPU others took."""
    for n, pct in enumerate(others_pct, start=1):
        yield {"n": n, "others_on_server_cpu_pct": pct}


def test_a_clean_first_round_is_kept_without_repeating() -> None:
    logged: list[str] = []
    runs = _runs(OTHERS_LIMIT_PCT, 90.0)
    result = clean_run("submit", lambda: next(runs), logged.append)
    assert result["n"] == 1 and result["attempts"] == 1
    assert "foreign_cpu_pct" in result and logged == []


def test_a_disturbed_round_is_repeated_until_clean() -> None:
    logged: list[str] = []
    runs = _runs(40.0, 12.5, 1.0, 0.0)
    result = clean_run("worker", lambda: next(runs), logged.append)
    assert result["n"] == 3 and result["attempts"] == 3
    assert len(logged) == 2 and logged[0].startswith("  worker: other processes took 40%")


def test_the_last_attempt_is_kept_when_every_one_is_disturbed() -> None:
    logged: list[str] = []
    runs = _runs(*[50.0] * (ROUND_ATTEMPTS + 2))
    result, _, attempts = clean_round(
        "e2e", lambda: next(runs), logged.append, lambda r: r["others_on_server_cpu_pct"]
    )
    assert attempts == ROUND_ATTEMPTS and result["n"] == ROUND_ATTEMPTS
    assert len(logged) == ROUND_ATTEMPTS - 1  # no "repeating it" after the last attempt


def test_without_a_measure_of_others_the_first_round_stands() -> None:
    calls = iter(range(10))
    result, _, attempts = clean_round("coldstart", lambda: next(calls), print)
    assert (result, attempts) == (0, 1)


def test_figures_keep_the_clean_rounds_or_all_when_none_is_clean() -> None:
    rounds: list[dict[str, Any]] = [
        {
            "clean": all_clean(
                [{"others_on_server_cpu_pct": 1.0}, {"others_on_server_cpu_pct": 2.0}]
            )
        },
        {
            "clean": all_clean(
                [{"others_on_server_cpu_pct": 1.0}, {"others_on_server_cpu_pct": 9.0}]
            )
        },
        {"clean": True, "extra": 1},
    ]
    assert [r["clean"] for r in rounds] == [True, False, True]
    assert clean_only(rounds) == [rounds[0], rounds[2]]
    assert kept_rounds(rounds) == {0, 2}
    disturbed = [{"clean": False, "n": 1}, {"clean": False, "n": 2}]
    assert clean_only(disturbed) == disturbed and kept_rounds(disturbed) == {0, 1}
