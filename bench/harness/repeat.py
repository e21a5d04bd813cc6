"""The repeat policy: a round that other work disturbed is run again, a few times at most, and the
figures keep the clean rounds.

A round is disturbed when other processes took more than OTHERS_LIMIT_PCT of the server's CPU
while it ran (interference.OthersOnCpu). It is repeated up to ROUND_ATTEMPTS times; if it never
runs clean, the last attempt is kept. Sections mark each kept round clean or not (all_clean),
their figures use the clean rounds when there are any (clean_only), and the report counts the
rounds left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from bench.harness.interference import OTHERS_LIMIT_PCT, ForeignCpu

T = TypeVar("T")
ROUND_ATTEMPTS = 3


def clean_only(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds marked clean (every run under OTHERS_LIMIT_PCT), or all if none is."""
    clean = [r for r in rounds if r["clean"]]
    return clean or rounds


def all_clean(runs: Iterable[dict[str, Any]]) -> bool:
    """Whether other work took at most OTHERS_LIMIT_PCT of the server's CPU in every run."""
    return all(x["others_on_server_cpu_pct"] <= OTHERS_LIMIT_PCT for x in runs)


def kept_rounds(rounds: list[dict[str, Any]]) -> set[int]:
    """Indices of the rounds clean_only keeps."""
    clean = clean_only(rounds)
    return {i for i, r in enumerate(rounds) if r in clean}


def clean_round(
    what: str,
    fn: Callable[[], T],
    log: Callable[[str], Any],
    waited: Callable[[T], float] = lambda result: 0.0,
) -> tuple[T, float, int]:
    """Run `fn` until other work took at most OTHERS_LIMIT_PCT of the server's CPU during it
    (`waited(result)`, see OthersOnCpu), at most ROUND_ATTEMPTS times. Returns the kept result,
    the share of the whole machine other processes used meanwhile (informative), and the
    attempts."""
    for attempt in range(1, ROUND_ATTEMPTS + 1):
        meter = ForeignCpu()
        result = fn()
        pct = meter.pct()
        wait = waited(result)
        if wait <= OTHERS_LIMIT_PCT or attempt == ROUND_ATTEMPTS:
            return result, pct, attempt
        log(
            f"  {what}: other processes took {wait:.0f}% of the server's CPU ({pct:.0f}% of the "
            f"machine); repeating it"
        )
    raise AssertionError("unreachable")


def clean_run(
    what: str, fn: Callable[[], dict[str, Any]], log: Callable[[str], Any]
) -> dict[str, Any]:
    """clean_round for a run whose result reports `others_on_server_cpu_pct`; the kept result
    gets `foreign_cpu_pct` and `attempts` added."""
    result, foreign, tries = clean_round(
        what, fn, log, lambda res: float(res["others_on_server_cpu_pct"])
    )
    result.update(foreign_cpu_pct=foreign, attempts=tries)
    return result
