"""Arrival profiles and service times for `spillway simulate run`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from functions.scaling.errors import WorkloadError
from functions.scaling.workload import (
    Profile,
    arrivals,
    draw_service_times,
    read_arrivals,
)


@pytest.mark.parametrize("name", ["steady", "bursts", "spike-train", "diurnal"])
def test_profiles_are_sorted_bounded_and_seeded(name: str) -> None:
    profile = Profile(
        name=name,  # type: ignore[arg-type]
        rate=5,
        duration=1000,
        burst_size=50,
        every=100,
        period=1000,
        process="poisson",
    )
    a = arrivals(profile, seed=1)
    assert a == sorted(a) and a and 0 <= a[0] and a[-1] < 1000
    assert a == arrivals(profile, seed=1)
    assert a != arrivals(profile, seed=2)


def test_steady_rate_and_spike_train_counts() -> None:
    poisson = arrivals(Profile("steady", rate=10, duration=1000, process="poisson"), 0)
    assert abs(len(poisson) - 10_000) < 400
    spikes = arrivals(Profile("spike-train", rate=0, duration=600, burst_size=30, every=60), 0)
    assert len(spikes) == 300 and spikes[0] < 1 and 60 <= spikes[30] < 61


def test_diurnal_peaks_at_half_period() -> None:
    a = arrivals(Profile("diurnal", rate=10, duration=1000, amplitude=0.9, period=1000), 0)
    trough = sum(1 for t in a if t < 100)
    peak = sum(1 for t in a if 450 <= t < 550)
    assert peak > 5 * trough


def test_read_arrivals(tmp_path: Path) -> None:
    path = tmp_path / "arrivals.txt"
    path.write_text("# seconds\n3.5\n\n1\n2  # two\n")
    assert read_arrivals(path) == [1.0, 2.0, 3.5]
    path.write_text("1\nsoon\n")
    with pytest.raises(WorkloadError, match="arrivals.txt:2"):
        read_arrivals(path)


@pytest.mark.parametrize("dist", ["exp", "const", "lognormal"])
def test_service_time_means(dist: str) -> None:
    times = draw_service_times(dist, 2.0, 0.5, random.Random(0), 20_000)  # type: ignore[arg-type]
    assert abs(sum(times) / len(times) - 2.0) < 0.1


def test_steady_means_what_it_means_in_spillway_load() -> None:
    """Evenly spaced unless --process poisson: the schedule `spillway load` would send."""
    from functions.loadtest.profiles import Profile as LoadProfile
    from functions.loadtest.profiles import arrivals as load_arrivals

    simulated = arrivals(Profile("steady", rate=2, duration=30), seed=0)
    assert simulated == load_arrivals(LoadProfile("steady", rate=2, duration=30))
    assert simulated[:3] == [0.0, 0.5, 1.0] and len(simulated) == 60
