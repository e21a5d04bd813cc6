"""Replaying a recorded metric series (docs/scaling.md, "Conventions")."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.scaling.errors import MetricsError
from functions.scaling.replay import read_series, replay
from tests.scaling.helpers import spec_of, trigger

# pollingInterval 10, cooldownPeriod 30, listLength 5, activationListLength 0, no behavior.
SPEC = spec_of(trigger("q"), pollingInterval=10, cooldownPeriod=30, maxReplicaCount=10)


def series(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "metrics.csv"
    path.write_text(text)
    return path


def test_replay_by_hand(tmp_path: Path) -> None:
    """Worked by hand (KEDA polls at 0, 10, 20...; HPA syncs at 0, 15, 30...; KEDA first):
    t=20  KEDA: 23 > 0, active at 0 replicas -> 1 (scaleFromZeroOrIdle)
    t=30  HPA: ceil(23/5) = 5, legacy cap max(2x1, 4) = 4
    t=45  HPA: 23/(5x4) = 1.15 is outside the 0.1 tolerance -> 5
    t=60,75  HPA: ceil(0/5) = 0, held at 5 by the 300 s stabilization window
    t=70  KEDA: last active poll 40; 40 + 30 < 70 is false -> still cooling down
    t=80  KEDA: 40 + 30 < 80 -> 0"""
    path = series(tmp_path, "t,q\n0,0\n12,23\n50,0\n")
    changes, decisions = replay(SPEC, read_series(path, SPEC), duration=120)
    assert changes == [(0, 0), (20, 1), (30, 4), (45, 5), (80, 0)]
    assert [d.source for d in decisions] == ["keda", "hpa", "hpa", "keda"]


def test_without_a_duration_the_last_row_holds_until_the_count_settles(tmp_path: Path) -> None:
    """The hand-worked series above ends at t=50 with an empty queue: the scale-in to 0 at
    t=80 comes after its last row, and the replay goes on until nothing can change any more
    (cooldown 30 + the 300 s scale-down window + a poll and a sync after the last change)."""
    path = series(tmp_path, "t,q\n0,0\n12,23\n50,0\n")
    changes, decisions = replay(SPEC, read_series(path, SPEC))
    assert changes == [(0, 0), (20, 1), (30, 4), (45, 5), (80, 0)]
    held = series(tmp_path, "t,q\n0,23\n")  # a backlog that never drains: scale out, then stop
    changes, _ = replay(SPEC, read_series(held, SPEC))
    assert changes[-1][1] == 5  # and the replay ended on its own


def test_keda_and_hpa_at_one_instant_give_one_row(tmp_path: Path) -> None:
    """Convention: KEDA first on ties; the row shows the count after both, the first row is the
    starting count."""
    spec = spec_of(trigger("q"), pollingInterval=15)
    path = series(tmp_path, "t,q\n0,23\n")
    changes, decisions = replay(spec, read_series(path, spec), duration=0)
    assert changes == [(0, 0), (0, 4)]
    assert [(d.before, d.replicas) for d in decisions] == [(0, 1), (1, 4)]


def test_columns_by_trigger_name_and_values_before_the_first_row(tmp_path: Path) -> None:
    spec = spec_of(trigger("spillway", name="queued"), pollingInterval=5)
    path = series(tmp_path, "t,queued\n7,3\n")
    changes, _ = replay(spec, read_series(path, spec), duration=10)
    assert changes == [(0, 0), (10, 1)]  # nothing before t=7: the key reads 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,q\n0,1\n", "needs a 't' column"),
        ("t,other\n0,1\n", "no column for q"),
        ("t,q\n0,x\n", "metrics.csv:2: every value must be a number"),
        ("t,q\n5,1\n2,1\n", "non-decreasing"),
        ("t,q\n", "no rows"),
    ],
)
def test_bad_metrics_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MetricsError, match=message):
        read_series(series(tmp_path, text), SPEC)
