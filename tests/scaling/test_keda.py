"""KEDA's redis trigger and its 0 <-> 1 step (docs/scaling.md, "KEDA")."""

from __future__ import annotations

from functions.scaling.controller import ScalingController
from functions.scaling.keda import Keda
from tests.scaling.helpers import spec_of, trigger


def polls(
    keda: Keda, start: int, series: dict[int, int], period: int = 10
) -> list[tuple[int, int]]:
    """Run one poll every `period` s over {t: LLEN}; return (t, replicas) at each change."""
    current, out = start, []
    for t in sorted(series):
        new, _ = keda.poll(t, {"q": series[t]}, current)
        if new != current:
            out.append((t, new))
        current = new
    return out


def test_activation_is_strictly_greater_than_activation_list_length() -> None:
    """kedacore/keda pkg/scalers/redis_scaler.go: `listLen > ActivationListLength`; the docs:
    "Activation only occurs when this value is greater than the set value; not greater than or
    equal to"."""
    keda = Keda(spec_of(trigger("q", activation=3)))
    assert keda.poll(0, {"q": 3}, 0)[0] == 0
    assert keda.poll(10, {"q": 4}, 0)[0] == 1


def test_a_missing_key_reads_zero() -> None:
    """redis_scaler.go's Lua script: type 'none' -> LLEN, i.e. 0 for a key that does not exist."""
    keda = Keda(spec_of(trigger("q")))
    assert keda.activity({})[0] is False


def test_cooldown_counts_from_the_last_active_poll_strictly() -> None:
    """scale_scaledobjects.go scaleToZeroOrIdle: `LastActiveTime + cooldownPeriod < now`, checked
    only on polls; lastActiveTime is set on every active poll (RequestScale)."""
    keda = Keda(spec_of(trigger("q"), cooldownPeriod=30))
    series = {0: 5, 10: 5, 20: 5, 30: 0, 40: 0, 50: 0, 60: 0}
    # Last active poll at 20: 20 + 30 < 50 is false, 20 + 30 < 60 is true.
    assert polls(keda, 0, series) == [(0, 1), (60, 0)]


def test_one_active_poll_resets_the_cooldown() -> None:
    """notes 2.2 and temporalio/temporal-worker-controller#547: "any single poll ... that sees a
    non-zero backlog resets the cool down clock"."""
    keda = Keda(spec_of(trigger("q"), cooldownPeriod=100))
    series = dict.fromkeys(range(0, 400, 10), 0)
    series[0] = series[90] = 1
    assert polls(keda, 0, series) == [(0, 1), (200, 0)]  # 90 + 100 < 200, not 190


def test_initial_cooldown_from_creation_when_never_active() -> None:
    """scaleToZeroOrIdle: with no lastActiveTime, `CreationTimestamp + initialCooldownPeriod <
    now` (default initialCooldownPeriod 0, scale_executor.go)."""
    keda = Keda(spec_of(trigger("q"), initialCooldownPeriod=60), created_at=0)
    assert polls(keda, 1, dict.fromkeys(range(0, 100, 10), 0)) == [(70, 0)]
    # Default 0: not at the creation instant itself (0 < 0 is false), at the next poll.
    keda = Keda(spec_of(trigger("q")), created_at=0)
    assert polls(keda, 1, {0: 0, 10: 0}) == [(10, 0)]


def test_activation_goes_to_min_replicas_or_one() -> None:
    """scaleFromZeroOrIdle: minReplicaCount if > 0, else 1; the HPA does 1 -> N."""
    assert Keda(spec_of(trigger("q"))).poll(0, {"q": 100}, 0)[0] == 1
    keda = Keda(spec_of(trigger("q"), minReplicaCount=2, idleReplicaCount=0, cooldownPeriod=10))
    assert keda.poll(0, {"q": 1}, 0)[0] == 2
    assert keda.poll(20, {"q": 0}, 2)[0] == 0  # idle after the cooldown
    # Without idleReplicaCount a min >= 1 is never scaled below.
    keda = Keda(spec_of(trigger("q"), minReplicaCount=2, cooldownPeriod=10))
    assert keda.poll(100, {"q": 0}, 2)[0] == 2
    assert keda.poll(110, {"q": 0}, 1)[0] == 2


def test_several_triggers_active_if_any_is() -> None:
    """scale_handler.go getScaledObjectState: any active trigger makes the object active."""
    keda = Keda(spec_of(trigger("a", activation=10), trigger("b", activation=0)))
    assert keda.activity({"a": 5, "b": 1})[0] is True
    assert keda.activity({"a": 5, "b": 0})[0] is False


def test_scaling_modifiers_replace_trigger_activity_and_metrics() -> None:
    """scale_handler.go: with scalingModifiers the activity is recomputed as composite >
    activationTarget, ignoring each trigger's activationListLength; one composite metric goes to
    the HPA (modifiers/formula.go)."""
    spec = spec_of(
        trigger("spillway", activation=100, name="queued"),
        trigger("unacked", activation=100, name="inflight"),
        modifiers={"formula": "queued + inflight", "target": "2", "activationTarget": "4"},
    )
    keda = Keda(spec)
    assert keda.activity({"spillway": 2, "unacked": 2})[0] is False  # 4 > 4 is false
    assert keda.activity({"spillway": 3, "unacked": 2})[0] is True
    (metric,) = keda.hpa_metrics({"spillway": 3, "unacked": 2})
    assert (metric.value, metric.target, metric.metric_type) == (5.0, 2.0, "AverageValue")


def test_composite_metric_is_truncated_to_milli_units() -> None:
    """modifiers/formula.go: `ret.Value.SetMilli(int64(out * 1000))`."""
    spec = spec_of(trigger("q", name="q"), modifiers={"formula": "q / 3", "target": "1"})
    assert Keda(spec).composite({"q": 1}) == 0.333


def test_controller_polls_before_syncing_on_a_tie() -> None:
    """Convention (docs/scaling.md): KEDA first on ties, so at t=0 KEDA's 0 -> 1 is followed by
    the HPA's 1 -> N in the same instant."""
    ctl = ScalingController(spec_of(trigger("q", length=5), pollingInterval=15))
    decisions = ctl.step(0, {"q": 12})
    assert [(d.source, d.before, d.replicas) for d in decisions] == [("keda", 0, 1), ("hpa", 1, 3)]
    assert ctl.replicas == 3


def test_controller_schedule_with_hpa_offset() -> None:
    """Convention: KEDA polls at 0, P, 2P...; the HPA at offset + 15k."""
    ctl = ScalingController(spec_of(trigger("q"), pollingInterval=10), hpa_offset=4)
    times = []
    while ctl.next_due <= 40:
        times += [(d.t, d.source) for d in ctl.step(ctl.next_due, {"q": 0})]
    assert times == [
        (0, "keda"), (4, "hpa"), (10, "keda"), (19, "hpa"), (20, "keda"), (30, "keda"),
        (34, "hpa"), (40, "keda"),
    ]  # fmt: skip
