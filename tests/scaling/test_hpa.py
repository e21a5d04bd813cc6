"""The HPA's sync for KEDA's External metrics (docs/scaling.md, "HPA")."""

from __future__ import annotations

from functions.scaling.hpa import HorizontalPodAutoscaler
from functions.scaling.keda import ExternalMetric
from functions.scaling.spec import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, Behavior, Policy, Rules


def avg(value: float, target: float = 1) -> list[ExternalMetric]:
    return [ExternalMetric("m", value, target, "AverageValue")]


def run(hpa: HorizontalPodAutoscaler, start: int, values: list[float]) -> list[int]:
    """One sync every 15 s with these metric values; the replica count after each."""
    current, out = start, []
    for k, value in enumerate(values):
        current, _ = hpa.sync(15.0 * k, current, avg(value))
        out.append(current)
    return out


def test_legacy_path_doubles_or_adds_up_to_four_per_sync() -> None:
    """horizontal.go convertDesiredReplicasWithRules / calculateScaleUpLimit: without behavior
    (KEDA's default, controllers/keda/hpa.go) the cap is max(2 x current, 4): 1 -> 4 -> 8 -> 16."""
    hpa = HorizontalPodAutoscaler(1, 100, None)
    assert run(hpa, 1, [1000] * 4) == [4, 8, 16, 32]


def test_default_behavior_allows_four_pods_or_double_per_period() -> None:
    """pkg/apis/autoscaling/v2/defaults.go: scaleUp policies Pods 4 and Percent 100 per 15 s,
    selectPolicy Max, so max(current + 4, 2 x current): 1 -> 5 -> 10 -> 20."""
    hpa = HorizontalPodAutoscaler(1, 100, Behavior())
    assert run(hpa, 1, [1000] * 4) == [5, 10, 20, 40]


def test_average_value_proposal_is_ceil_metric_over_target() -> None:
    """replica_calculator.go GetExternalPerPodMetricReplicas: outside the tolerance the proposal
    is ceil(usage / target), whatever the current count."""
    hpa = HorizontalPodAutoscaler(1, 100, Behavior())
    assert hpa.sync(0, 3, avg(23, 5))[0] == 5


def test_tolerance_band_is_inclusive_and_uses_status_replicas() -> None:
    """Tolerances.isWithin: (1 - 0.1) <= usage / (target x statusReplicas) <= (1 + 0.1) keeps
    the current count (--horizontal-pod-autoscaler-tolerance, default 0.1)."""
    for value, expected in [(54, 10), (55, 10), (56, 12), (45, 10), (44, 9)]:
        hpa = HorizontalPodAutoscaler(1, 100, Behavior(down=Rules(0, DEFAULT_SCALE_DOWN.policies)))
        assert hpa.sync(0, 10, avg(value, 5))[0] == expected, value


def test_configurable_tolerance_per_direction() -> None:
    """behavior.scaleUp.tolerance (HPAConfigurableTolerance gate) overrides the 0.1 flag."""
    up = Rules(0, DEFAULT_SCALE_UP.policies, tolerance=0.5)
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(up=up))
    assert hpa.sync(0, 10, avg(70, 5))[0] == 10  # ratio 1.4 is within 1 + 0.5


def test_legacy_stabilization_holds_scale_down_for_five_minutes() -> None:
    """horizontal.go stabilizeRecommendation: the max of recommendations not Before(now - 5 min)
    (--horizontal-pod-autoscaler-downscale-stabilization 5m); a recommendation exactly 300 s
    old still counts."""
    hpa = HorizontalPodAutoscaler(1, 100, None)
    assert hpa.sync(0, 4, avg(4))[0] == 4
    assert hpa.sync(15, 4, avg(0))[0] == 4
    assert hpa.sync(300, 4, avg(0))[0] == 4  # the t=0 recommendation is exactly 300 s old
    assert hpa.sync(315, 4, avg(0))[0] == 1  # no down-rate limit on the legacy path


def test_behavior_stabilization_window_excludes_its_edge() -> None:
    """stabilizeRecommendationWithBehaviors: recommendations with timestamp.After(now - window)."""
    down = Rules(60, DEFAULT_SCALE_DOWN.policies)
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(down=down))
    assert hpa.sync(0, 4, avg(4))[0] == 4
    assert hpa.sync(45, 4, avg(0))[0] == 4
    assert hpa.sync(60, 4, avg(0))[0] == 1  # t=0 is not After(60 - 60)


def test_first_sync_records_the_current_count() -> None:
    """horizontal.go recordInitialRecommendation: the first reconcile stores the current replicas
    as a recommendation, so a new HPA does not scale down at once."""
    hpa = HorizontalPodAutoscaler(1, 100, None)
    assert hpa.sync(0, 5, avg(0))[0] == 5
    assert hpa.sync(301, 5, avg(0))[0] == 1


def test_percent_scale_down_truncates_and_counts_the_period() -> None:
    """calculateScaleDownLimitWithBehaviors: int(periodStart x (1 - value/100)), periodStart adding
    back what was removed within the period (getReplicasChangePerPeriod)."""
    down = Rules(0, (Policy("Percent", 50, 60),))
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(down=down))
    assert run(hpa, 5, [0, 0, 0, 0, 0, 0]) == [2, 2, 2, 2, 1, 1]


def test_select_policy_min_and_disabled() -> None:
    """selectPolicy Min takes the smallest change; Disabled returns the current count
    (calculateScaleUpLimitWithScalingRules)."""
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(up=Rules(0, DEFAULT_SCALE_UP.policies, "Min")))
    assert hpa.sync(0, 1, avg(100))[0] == 2  # min(1 + 4, 2 x 1)
    disabled = Rules(0, DEFAULT_SCALE_UP.policies, "Disabled")
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(up=disabled))
    assert hpa.sync(0, 1, avg(100))[0] == 1
    hpa = HorizontalPodAutoscaler(1, 100, Behavior(down=Rules(0, (), "Disabled")))
    assert hpa.sync(0, 6, avg(0))[0] == 6


def test_value_metric_scales_ready_pods() -> None:
    """replica_calculator.go GetExternalMetricReplicas: ratio = usage / target; outside the
    tolerance ceil(ratio x readyPods), with spec replicas as the current count."""
    hpa = HorizontalPodAutoscaler(1, 100, Behavior())
    metric = [ExternalMetric("m", 30, 10, "Value")]
    assert hpa.sync(0, 2, metric, ready=1)[0] == 3
    assert hpa.sync(15, 3, [ExternalMetric("m", 10.5, 10, "Value")], ready=3)[0] == 3


def test_several_metrics_take_the_largest_proposal() -> None:
    """computeReplicasForMetrics: the max over metrics (so triggers are not summed)."""
    hpa = HorizontalPodAutoscaler(1, 100, Behavior())
    metrics = [
        ExternalMetric("a", 10, 5, "AverageValue"),
        ExternalMetric("b", 60, 5, "AverageValue"),
    ]
    assert hpa.sync(0, 6, metrics)[0] == 12


def test_zero_replicas_disable_the_hpa_and_bounds_apply_without_metrics() -> None:
    """reconcileAutoscaler: spec 0 with minReplicas > 0 is ScalingDisabled (KEDA owns 0 <-> 1);
    above max -> max and below min -> min without computing metrics."""
    hpa = HorizontalPodAutoscaler(2, 10, None)
    assert hpa.sync(0, 0, avg(1000))[0] == 0
    assert hpa.sync(15, 12, avg(0))[0] == 10
    assert hpa.sync(30, 1, avg(1000))[0] == 2


def test_reason_names_the_rule() -> None:
    """The reason string is what users see in `spillway simulate` and the dev scaler."""
    hpa = HorizontalPodAutoscaler(1, 100, None)
    _, reason = hpa.sync(0, 1, avg(30, 2))
    assert "ceil(30/2)" in reason and "max(2x1, 4)" in reason
