"""Arrival schedules: when each invocation is offered, in seconds from the start of the run.

Every profile returns a sorted list of offsets and is deterministic: `uniform` spacing is exact,
and `poisson` draws from a seeded generator (for a fixed count, Poisson arrivals over an interval
are that many uniform points, sorted). The same list feeds the producer, the Locust shapes and
the simulator (written one offset per line, the simulator's `--arrivals` format).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from functions.loadtest.errors import ProfileError

PROFILES = ("steady", "burst", "spike", "ramp", "trace")
Process = Literal["uniform", "poisson"]


@dataclass(frozen=True)
class Profile:
    name: str
    rate: float | None = None  # steady: arrivals/s; ramp: final rate; spike: background rate
    rate_start: float = 0.0  # ramp: initial rate
    duration: float | None = None
    count: int | None = None  # burst: size; spike: size of each spike; steady: total
    spikes: int = 3
    period: float = 10.0  # spike: seconds between spike starts
    spike_width: float = 0.0  # spike: seconds over which one spike's arrivals spread
    trace: Path | None = None
    process: Process = "uniform"
    seed: int = 0


def arrivals(profile: Profile) -> list[float]:
    """The schedule of `profile`: sorted offsets in seconds, the first at or after 0."""
    rng = random.Random(profile.seed)
    match profile.name:
        case "steady":
            return _steady(profile, rng)
        case "burst":
            return [0.0] * _need(profile.count, "--count", "burst")
        case "spike":
            return _spike_train(profile, rng)
        case "ramp":
            return _ramp(profile, rng)
        case "trace":
            if profile.trace is None:
                raise ProfileError("--profile trace needs --trace PATH")
            return read_trace(profile.trace)
    raise ProfileError(f"unknown profile {profile.name!r} (choose from {', '.join(PROFILES)})")


def _need(value: int | None, option: str, name: str) -> int:
    if value is None:
        raise ProfileError(f"--profile {name} needs {option}")
    return value


def _spread(
    count: int, start: float, length: float, process: Process, rng: random.Random
) -> list[float]:
    """`count` arrivals over [start, start + length): evenly spaced, or seeded Poisson."""
    if process == "poisson":
        return sorted(start + rng.random() * length for _ in range(count))
    step = length / count if count else 0.0
    return [start + i * step for i in range(count)]


def _steady(profile: Profile, rng: random.Random) -> list[float]:
    rate, duration, count = profile.rate, profile.duration, profile.count
    given = sum(v is not None for v in (rate, duration, count))
    if given != 2:
        raise ProfileError("--profile steady needs exactly two of --rate, --duration, --count")
    if count is None:
        assert rate is not None and duration is not None
        count = round(rate * duration)
    elif duration is None:
        assert rate is not None
        duration = count / rate
    else:
        assert duration is not None
    return _spread(count, 0.0, duration, profile.process, rng)


def _spike_train(profile: Profile, rng: random.Random) -> list[float]:
    size = _need(profile.count, "--count (arrivals per spike)", "spike")
    times: list[float] = []
    for k in range(profile.spikes):
        times += _spread(size, k * profile.period, profile.spike_width, profile.process, rng)
    if profile.rate:
        span = profile.spikes * profile.period
        times += _spread(round(profile.rate * span), 0.0, span, profile.process, rng)
    return sorted(times)


def _ramp(profile: Profile, rng: random.Random) -> list[float]:
    if profile.rate is None or profile.duration is None:
        raise ProfileError("--profile ramp needs --rate (the final rate) and --duration")
    r0, r1, length = profile.rate_start, profile.rate, profile.duration
    count = round((r0 + r1) / 2 * length)
    if profile.process == "poisson":
        # Inverse-CDF sampling of the linear density, then sorted.
        return sorted(_ramp_time(rng.random() * count, r0, r1, length) for _ in range(count))
    # The i-th arrival is when the cumulative expected count reaches i.
    return [_ramp_time(float(i), r0, r1, length) for i in range(count)]


def _ramp_time(n: float, r0: float, r1: float, length: float) -> float:
    """The t in [0, length] at which the rate r0 -> r1 has produced n arrivals."""
    slope = (r1 - r0) / length
    if abs(slope) < 1e-12:
        return n / r0
    # n = r0 t + slope t^2 / 2, solved for the root in [0, length].
    return (-r0 + math.sqrt(r0 * r0 + 2 * slope * n)) / slope


def read_trace(path: Path) -> list[float]:
    """A trace file: one arrival time in seconds per line; blank lines and `#` comments skipped.

    The simulator reads the same format (functions/scaling/workload.py), so one trace drives both.
    """
    from functions.scaling.errors import WorkloadError
    from functions.scaling.workload import read_arrivals

    try:
        return read_arrivals(path)
    except WorkloadError as exc:
        raise ProfileError(str(exc)) from None


def write_arrivals(path: Path, times: Iterable[float]) -> None:
    path.write_text("".join(f"{t:.6f}\n" for t in times))


def groups(times: Sequence[float], size: int) -> list[tuple[float, range]]:
    """Arrivals packed `size` to a request, each request sent when its last item has arrived."""
    return [
        (times[min(start + size, len(times)) - 1], range(start, min(start + size, len(times))))
        for start in range(0, len(times), size)
    ]


def rate_at(times: Sequence[float], t: float, window: float = 1.0) -> int:
    """How many arrivals fall in [t, t + window)."""
    return bisect_left(times, t + window) - bisect_left(times, t)
