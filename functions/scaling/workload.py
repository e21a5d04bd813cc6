"""What `simulate run` feeds the system: task arrival times and task service times (seeded)."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from functions.scaling.errors import WorkloadError

ProfileName = Literal["steady", "bursts", "spike-train", "diurnal"]
PROFILES: tuple[ProfileName, ...] = ("steady", "bursts", "spike-train", "diurnal")
# How a constant rate is spread, as in `spillway load` (functions/loadtest/profiles.py): evenly
# spaced, or a Poisson process.
Process = Literal["uniform", "poisson"]
Distribution = Literal["exp", "const", "lognormal"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("exp", "const", "lognormal")


@dataclass(frozen=True)
class Profile:
    """A built-in arrival pattern. The command refuses options a profile does not use
    (functions/scaling/commands.py); here the other fields are ignored.

    steady       `rate` per second, evenly spaced (`process` "poisson": a Poisson process), the
                 same meaning as `spillway load --profile steady`
    bursts       bursts of `burst_size` tasks spread over `width` s, at random (Poisson)
                 times `every` s apart on average, nothing in between
    spike-train  a steady background at `rate` (spaced by `process`), plus a spike of
                 `burst_size` tasks over `width` s every `every` s starting at t = 0
    diurnal      Poisson with rate(t) = rate x (1 - amplitude x cos(2 pi t / period)): the mean
                 is `rate`, the trough at t = 0 and the peak at period/2
    """

    name: ProfileName = "steady"
    rate: float = 1.0
    duration: float = 600.0
    burst_size: int = 100
    every: float = 120.0
    width: float = 1.0
    amplitude: float = 0.8
    period: float = 86400.0
    process: Process = "uniform"


def _poisson(rng: random.Random, rate: float, duration: float) -> list[float]:
    if rate <= 0:
        return []
    # Enough gaps to pass `duration` with overwhelming probability, then trim.
    n = int(rate * duration + 6 * math.sqrt(rate * duration) + 10)
    times = list(itertools.accumulate(rng.expovariate(rate) for _ in range(n)))
    while times[-1] < duration:
        times.append(times[-1] + rng.expovariate(rate))
    cut = next((i for i in range(len(times) - 1, -1, -1) if times[i] < duration), -1)
    return times[: cut + 1]


def _steady(rng: random.Random, rate: float, duration: float, process: Process) -> list[float]:
    if process == "poisson":
        return _poisson(rng, rate, duration)
    count = round(rate * duration)  # evenly spaced: the same schedule as `spillway load`'s
    return [i * duration / count for i in range(count)]


def _burst(rng: random.Random, at: float, size: int, width: float) -> list[float]:
    return sorted(at + rng.random() * width for _ in range(size))


def arrivals(profile: Profile, seed: int) -> list[float]:
    """Sorted arrival times in [0, duration)."""
    p = profile
    if p.duration <= 0 or p.rate < 0 or p.burst_size < 0 or p.width < 0:
        raise WorkloadError("duration must be > 0; rate, burst size and width >= 0")
    rng = random.Random(seed)
    if p.name == "steady":
        return _steady(rng, p.rate, p.duration, p.process)
    if p.every <= 0:
        raise WorkloadError("--every must be > 0")
    out: list[float] = []
    if p.name == "bursts":
        t = rng.expovariate(1 / p.every)
        while t < p.duration:
            out.extend(_burst(rng, t, p.burst_size, p.width))
            t += rng.expovariate(1 / p.every)
    elif p.name == "spike-train":
        out = _steady(rng, p.rate, p.duration, p.process)
        for k in range(math.ceil(p.duration / p.every)):
            out.extend(_burst(rng, k * p.every, p.burst_size, p.width))
    elif p.name == "diurnal":
        if not 0 <= p.amplitude <= 1 or p.period <= 0:
            raise WorkloadError("--amplitude must be in [0, 1] and --period > 0")
        peak = p.rate * (1 + p.amplitude)
        omega = 2 * math.pi / p.period
        # Thinning (Lewis & Shedler): keep each peak-rate arrival with probability rate(t)/peak.
        out = [
            t
            for t in _poisson(rng, peak, p.duration)
            if rng.random() * peak < p.rate * (1 - p.amplitude * math.cos(omega * t))
        ]
    else:
        raise WorkloadError(f"unknown profile {p.name!r} (choose from {', '.join(PROFILES)})")
    out = [t for t in out if t < p.duration]
    out.sort()
    return out


def read_arrivals(path: str | Path) -> list[float]:
    """One arrival time in seconds per line; blank lines and # comments are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise WorkloadError(f"cannot read trace {path}: {exc.strerror or exc}") from None
    out = []
    for n, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            t = float(text)
        except ValueError:
            raise WorkloadError(f"{path}:{n}: not a number of seconds: {text!r}") from None
        if not math.isfinite(t) or t < 0:
            raise WorkloadError(f"{path}:{n}: arrival times must be finite and >= 0")
        out.append(t)
    if not out:
        raise WorkloadError(f"{path}: no arrival times")
    out.sort()
    return out


def draw_service_times(
    dist: Distribution, mean: float, cv: float, rng: random.Random, n: int
) -> list[float]:
    """`n` task durations with this mean (and coefficient of variation, for lognormal)."""
    if mean <= 0:
        raise WorkloadError("--task-seconds must be > 0")
    if dist == "const":
        return [mean] * n
    if dist == "exp":
        uniform, log = rng.random, math.log
        return [-mean * log(1.0 - uniform()) for _ in range(n)]
    if dist == "lognormal":
        if cv <= 0:
            raise WorkloadError("--task-cv must be > 0")
        sigma = math.sqrt(math.log(1 + cv * cv))
        mu = math.log(mean) - sigma * sigma / 2
        return [rng.lognormvariate(mu, sigma) for _ in range(n)]
    raise WorkloadError(f"unknown distribution {dist!r} (choose from {', '.join(DISTRIBUTIONS)})")
