"""Memory admission: refuse new submits well before Redis refuses writes.

With `maxmemory` and `noeviction`, a full Redis refuses every write that may grow memory
(src/evict.c, performEvictions; src/server.c, processCommand: "-OOM command not allowed"). Then
nothing new is accepted, which is right, but neither can a worker record a result that is larger
than the message it replaces, or a retry its error. So the API refuses new submits once Redis
holds SPILLWAY_MEMORY_ADMISSION of its budget, leaving the rest to the work already accepted
(the worker's scripts also begin with a write that frees: tests/worker/test_inflight.py).

The budget is SPILLWAY_MEMORY_BUDGET when set, else Redis's own `maxmemory`. With neither (a
Redis without `maxmemory` never refuses for memory; the kernel's OOM killer decides instead)
admission is off, and the API says so in its log once.

Memory is sampled with `INFO memory` by the first submit after SPILLWAY_MEMORY_SAMPLE_INTERVAL,
one round trip every interval for the whole process whatever the rate; used memory is counted as
Redis counts it against maxmemory: `used_memory` minus `mem_not_counted_for_evict` (replication
and AOF buffers; src/evict.c, getMaxmemoryState).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from functions.settings import Settings

log = logging.getLogger("spillway.api")
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MemorySample:
    used: int  # bytes, as Redis counts them against maxmemory
    budget: int  # bytes; 0 when there is none
    at: float  # time.monotonic() of the sample


class MemoryFull(Exception):
    """Redis holds more than the admission share of its memory budget."""

    def __init__(self, sample: MemorySample, share: float) -> None:
        super().__init__(
            f"Redis holds {sample.used / MIB:.1f} MiB of its {sample.budget / MIB:.1f} MiB "
            f"budget ({sample.used / sample.budget:.0%}); new submits are refused above "
            f"{share:.0%} so that accepted invocations can finish"
        )
        self.sample = sample


def parse_info(text: bytes | str, budget: int, at: float) -> MemorySample:
    """The sample in an `INFO memory` reply; `budget` overrides Redis's maxmemory when > 0."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    used = int(fields.get("used_memory", "0")) - int(fields.get("mem_not_counted_for_evict", "0"))
    return MemorySample(used, budget or int(fields.get("maxmemory", "0")), at)


class Admission:
    """The last memory sample and the decision it gives; one per Submitter."""

    def __init__(self, settings: Settings) -> None:
        self.share = settings.MEMORY_ADMISSION
        self.budget = settings.MEMORY_BUDGET
        self.interval = settings.MEMORY_SAMPLE_INTERVAL
        self.enabled = self.share < 1.0
        self.sample: MemorySample | None = None
        self._next = 0.0
        self._warned = False

    def due(self) -> bool:
        """True for one caller per interval, which then samples (the others use the last)."""
        if not self.enabled:
            return False
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True

    def update(self, info: bytes | str) -> None:
        self.sample = parse_info(info, self.budget, time.monotonic())
        if self.sample.budget == 0 and not self._warned:
            self._warned = True
            log.warning(
                "Redis has no maxmemory and SPILLWAY_MEMORY_BUDGET is not set: memory admission "
                "is off, and a full Redis would be ended by the kernel's OOM killer"
            )

    def disable(self, reason: str) -> None:
        """Sampling is impossible here (e.g. the ACL user may not run INFO): stop trying."""
        self.enabled = False
        log.warning("memory admission is off: %s", reason)

    def check(self) -> None:
        """Raise MemoryFull if the last sample is over the admission share of the budget."""
        sample = self.sample
        if sample is not None and sample.budget and sample.used > self.share * sample.budget:
            raise MemoryFull(sample, self.share)

    def state(self) -> str | None:
        """What /readyz reports: why submits are refused, or None."""
        try:
            self.check()
        except MemoryFull as exc:
            return str(exc)
        return None
