"""Runs of the test functions, from the ticks they write to the ledger's Redis
(tests/support/functions.py), and the faults that may explain a rerun."""

from __future__ import annotations

from dataclasses import dataclass

import redis

# How often the `slow` function ticks: a run's last tick may be this much before it stopped.
TICK = 0.1


@dataclass(frozen=True)
class Run:
    """One execution of a function body, from its ticks in the ledger."""

    pid: int
    first: float
    last: float
    ended: bool  # the body returned or raised; False: cut short (killed, fenced)


def runs(client: redis.Redis, key: str) -> dict[int, Run]:
    """Run number -> Run, from the ticks the test functions write (tests/support/functions.py)."""
    found: dict[int, Run] = {}
    for raw in client.lrange(f"{key}:ticks", 0, -1):
        parts = (raw.decode() if isinstance(raw, bytes) else raw).split()
        number, pid, at = int(parts[0]), int(parts[1]), float(parts[2])
        ended = len(parts) > 3 and parts[3] == "end"
        seen = found.get(number)
        if seen is None:
            found[number] = Run(pid, at, at, ended)
        else:
            found[number] = Run(pid, min(seen.first, at), max(seen.last, at), seen.ended or ended)
    return found


def overlapping(found: dict[int, Run]) -> list[tuple[int, int]]:
    """Pairs of runs whose executions overlap in time."""
    spans = sorted((run.first, run.last, number) for number, run in found.items())
    return [(a[2], b[2]) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1]]


@dataclass(frozen=True)
class Fault:
    """A fault a test injected, from `start` to `end` (Unix seconds).

    `reach`: how long after it ended it may still stop a run (a frozen worker's tasks are fenced
    when its lease runs out, a SIGTERMed worker cancels its tasks after the soft shutdown).
    `loses_data`: Redis may have lost acknowledged writes (a crash without durable persistence),
    so any run that started before it ended may run again, even one that completed.
    """

    what: str
    start: float
    end: float
    reach: float = 0.0
    loses_data: bool = False

    def explains(self, run: Run) -> bool:
        if self.loses_data and run.first <= self.end:
            return True
        return not run.ended and self.start - 2 * TICK <= run.last <= self.end + self.reach


def unexplained_runs(found: dict[int, Run], expected: int, faults: list[Fault]) -> int:
    """How many runs beyond the `expected` ones no fault explains."""
    extra = len(found) - expected
    if extra <= 0:
        return 0
    explained = sum(1 for run in found.values() if any(f.explains(run) for f in faults))
    return max(0, extra - explained)
