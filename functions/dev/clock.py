"""One clock for `spillway dev`'s log: the wall clock, with waits in real seconds.

The decision engine runs on its own clock, seconds since the ScaledObject was created, and its
reasons say so ("... the last active poll at t=265"). Under `--fast` that clock runs FAST_FACTOR
times faster than real time, so every interval in a reason ("cooldownPeriod 120 s", "the 300 s
scale-down window") is also that many times longer than the real wait. The log and the published
state show each event at its wall-clock time, so `explain` rewrites a reason onto the same clock:
engine times become wall-clock times, and under `--fast` each interval becomes the real wait
with the manifest's value beside it.
"""

from __future__ import annotations

import re
import time

_ENGINE_TIME = re.compile(r"\bt=(\d+(?:\.\d+)?)")
# An interval in a reason: a number of seconds ("120 s"), not part of a formula or a name.
_INTERVAL = re.compile(r"(?<![\w.=/])(\d+(?:\.\d+)?) s\b")


class DevClock:
    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor
        self._mono = time.monotonic()
        self._wall = time.time()

    def engine_now(self) -> float:
        """Seconds on the engine's clock: real seconds since the start, times the factor."""
        return (time.monotonic() - self._mono) * self.factor

    def wall(self, engine_t: float) -> float:
        """The Unix time at which the engine's clock read `engine_t`."""
        return self._wall + engine_t / self.factor

    def explain(self, reason: str) -> str:
        """`reason` with engine times as wall-clock times and, under --fast, real waits."""
        text = _ENGINE_TIME.sub(lambda m: stamp(self.wall(float(m.group(1)))), reason)
        if self.factor == 1.0:
            return text
        return _INTERVAL.sub(
            lambda m: f"{float(m.group(1)) / self.factor:g} s (manifest {m.group(1)} s, --fast)",
            text,
        )


def stamp(unix: float) -> str:
    """A wall-clock time as the log shows it."""
    return time.strftime("%H:%M:%S", time.localtime(unix))
