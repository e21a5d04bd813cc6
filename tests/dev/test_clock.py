"""`spillway dev`'s log keeps one clock: wall-clock times, and real waits under --fast."""

from __future__ import annotations

import re
import time

from functions.dev.clock import DevClock, stamp
from functions.dev.scaler import load_spec
from functions.scaling.controller import ScalingController
from tests.support.processes import ROOT


def _reasons() -> list[tuple[float, str]]:
    """The engine's own reasons for a burst on the shipped ScaledObject, then the quiet after."""
    spec, _ = load_spec(
        ROOT / "keda", max_workers=4, fallback=ROOT / "keda" / "base" / "scaledobject.yaml"
    )
    controller = ScalingController(spec, replicas=0)
    reasons = []
    for t in range(700):
        metrics = {trigger.key: 0.0 for trigger in spec.triggers}
        metrics[spec.triggers[0].key] = 40.0 if t < 30 else 0.0
        for d in controller.step(float(t), metrics, status=controller.replicas, ready=0):
            if d.changed:
                reasons.append((d.t, d.reason))
    return reasons


def test_fast_mode_shows_the_real_cooldown_and_a_wall_clock_time() -> None:
    clock = DevClock(10.0)
    t, deactivated = _reasons()[-1]
    assert deactivated.startswith("KEDA deactivated") and "cooldownPeriod 120 s" in deactivated
    last_active = float(re.findall(r"at t=(\d+)", deactivated)[0])
    shown = clock.explain(deactivated)
    assert "cooldownPeriod 12 s (manifest 120 s, --fast)" in shown
    assert f"at {stamp(clock.wall(last_active))} has passed" in shown
    assert "t=" not in shown
    # The wait it names is the real one: the event's own time minus the last active poll.
    assert clock.wall(t) - clock.wall(last_active) >= 12.0


def test_every_interval_of_every_reason_is_rewritten() -> None:
    clock = DevClock(10.0)
    for _, reason in _reasons():
        shown = clock.explain(reason)
        assert not re.search(r"\bt=\d", shown), shown
        for seconds in re.findall(r"(\d+(?:\.\d+)?) s\b", reason):
            assert f"{float(seconds) / 10:g} s (manifest {seconds} s, --fast)" in shown, shown


def test_at_real_speed_only_the_times_change() -> None:
    clock = DevClock()
    assert clock.explain("cooldownPeriod 120 s after the last active poll at t=0") == (
        f"cooldownPeriod 120 s after the last active poll at {stamp(clock.wall(0.0))}"
    )
    assert abs(clock.wall(clock.engine_now()) - time.time()) < 1.0
    assert clock.explain("HPA: ceil(40/2) = 20, capped at maxReplicas 4") == (
        "HPA: ceil(40/2) = 20, capped at maxReplicas 4"
    )


def test_formula_numbers_are_not_taken_for_intervals() -> None:
    shown = DevClock(10.0).explain("HPA: ceil(30/2) = 15, capped at 8 = max(2x4, 4) (legacy rate)")
    assert "manifest" not in shown
