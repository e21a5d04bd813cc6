"""Arrival schedules: exact counts and times, seeded randomness, the trace format."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.loadtest.errors import ProfileError
from functions.loadtest.profiles import (
    Profile,
    arrivals,
    groups,
    rate_at,
    read_trace,
    write_arrivals,
)


def test_steady_is_evenly_spaced_from_rate_and_duration() -> None:
    times = arrivals(Profile("steady", rate=4, duration=2.5))
    assert times == [i * 0.25 for i in range(10)]


def test_steady_takes_any_two_of_rate_duration_count() -> None:
    assert arrivals(Profile("steady", rate=2, count=3)) == [0.0, 0.5, 1.0]
    assert arrivals(Profile("steady", duration=1, count=4)) == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ProfileError, match="exactly two"):
        arrivals(Profile("steady", rate=2, duration=1, count=3))


def test_burst_is_count_arrivals_at_zero() -> None:
    assert arrivals(Profile("burst", count=5)) == [0.0] * 5
    with pytest.raises(ProfileError, match="needs --count"):
        arrivals(Profile("burst"))


def test_spike_train_places_each_spike_on_its_period() -> None:
    times = arrivals(Profile("spike", count=3, spikes=2, period=10, spike_width=0.3))
    assert times == pytest.approx([0.0, 0.1, 0.2, 10.0, 10.1, 10.2])


def test_spike_train_adds_the_background_rate_over_all_periods() -> None:
    times = arrivals(Profile("spike", count=2, spikes=2, period=5, rate=1))
    assert len(times) == 2 * 2 + 10
    assert times == sorted(times)
    assert times.count(0.0) == 3 and times.count(5.0) == 3  # spike + background at 0 and 5


def test_ramp_count_and_rising_density() -> None:
    times = arrivals(Profile("ramp", rate_start=0, rate=10, duration=10))
    assert len(times) == 50  # the area under 0 -> 10 per second over 10 s
    assert times[0] == 0.0 and times[-1] < 10
    assert rate_at(times, 0, 5) < rate_at(times, 5, 5)  # more in the second half
    # The i-th arrival is where the expected count reaches i: t = sqrt(2 i / slope).
    assert times[8] == pytest.approx(4.0)


def test_ramp_down_and_flat_ramp() -> None:
    down = arrivals(Profile("ramp", rate_start=10, rate=0, duration=10))
    assert len(down) == 50 and down == sorted(down) and down[-1] <= 10
    assert arrivals(Profile("ramp", rate_start=2, rate=2, duration=2)) == [0, 0.5, 1.0, 1.5]


def test_poisson_is_seeded_exact_in_count_and_within_the_interval() -> None:
    one = arrivals(Profile("steady", rate=50, duration=2, process="poisson", seed=7))
    two = arrivals(Profile("steady", rate=50, duration=2, process="poisson", seed=7))
    other = arrivals(Profile("steady", rate=50, duration=2, process="poisson", seed=8))
    assert one == two != other
    assert len(one) == 100 and one == sorted(one) and 0 <= one[0] and one[-1] < 2
    ramp = arrivals(Profile("ramp", rate=20, duration=5, process="poisson", seed=1))
    assert len(ramp) == 50 and all(0 <= t <= 5 for t in ramp)


def test_trace_round_trip_with_comments_and_unsorted_lines(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"
    path.write_text("# recorded\n2.5\n\n0.5  # first\n1\n")
    assert arrivals(Profile("trace", trace=path)) == [0.5, 1.0, 2.5]
    out = tmp_path / "arrivals.txt"
    write_arrivals(out, [0.5, 1.0, 2.5])
    assert read_trace(out) == [0.5, 1.0, 2.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\nabc\n", "trace.txt:2: not a number"),
        ("-1\n", "finite and >= 0"),
        ("# none\n", "no arrival"),
    ],
)
def test_bad_traces_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "trace.txt"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        arrivals(Profile("trace", trace=path))


def test_batches_are_sent_when_their_last_item_arrives() -> None:
    plan = groups([0.0, 1.0, 2.0, 3.0, 4.0], 2)
    assert [(t, list(r)) for t, r in plan] == [(1.0, [0, 1]), (3.0, [2, 3]), (4.0, [4])]
