"""Where things run: the server under test on a CPU of its own, everything else on the rest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cpus:
    """Where things run. The server under test gets a core to itself; the load generator, Redis
    and this harness share the rest. On one core everything shares it (and the report says so)."""

    server: tuple[int, ...]
    load: tuple[int, ...]

    @classmethod
    def detect(cls) -> Cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(tuple(cpus), tuple(cpus))
        return cls((cpus[0],), tuple(cpus[1:]))

    def taskset(self, which: str) -> list[str]:
        cpus = self.server if which == "server" else self.load
        return ["taskset", "-c", ",".join(map(str, cpus))] if shutil.which("taskset") else []

    def describe(self) -> str:
        return (
            f"server under test on CPU {','.join(map(str, self.server))}; "
            f"load generator, Redis and harness on CPU {','.join(map(str, self.load))}"
        )


def pin(pid: int, cpus: Iterable[int]) -> None:
    """Pin every thread of `pid` (Redis has background threads) to `cpus`."""
    cpuset = set(cpus)
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpuset)
        except OSError:
            pass
