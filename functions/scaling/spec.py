"""Scaling parameters as KEDA, the HPA and Knative see them (with their upstream defaults), and
the parameters of a simulated run.

Sources (versions in docs/scaling.md): KEDA `apis/keda/v1alpha1/withtriggers_types.go`,
`pkg/scaling/executor/scale_executor.go`, `pkg/scalers/redis_scaler.go`; Kubernetes
`pkg/apis/autoscaling/v2/defaults.go`; Knative `config/core/configmaps/autoscaler.yaml`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from functions.scaling.workload import Distribution

MetricType = Literal["AverageValue", "Value"]
PolicyType = Literal["Pods", "Percent"]
SelectPolicy = Literal["Max", "Min", "Disabled"]

METRIC_TYPES: tuple[MetricType, ...] = ("AverageValue", "Value")
POLICY_TYPES: tuple[PolicyType, ...] = ("Pods", "Percent")
SELECT_POLICIES: tuple[SelectPolicy, ...] = ("Max", "Min", "Disabled")

# KEDA defaults: pollingInterval (withtriggers_types.go), cooldownPeriod and
# initialCooldownPeriod (scale_executor.go), min/max replicas (scale_scaledobjects.go, hpa.go).
DEFAULT_POLLING_INTERVAL = 30.0
DEFAULT_COOLDOWN = 300.0
DEFAULT_INITIAL_COOLDOWN = 0.0
DEFAULT_MIN_REPLICAS = 0
DEFAULT_MAX_REPLICAS = 100
# redis_scaler.go: defaultListLength = 5, defaultActivationListLength = 0.
DEFAULT_LIST_LENGTH = 5.0
DEFAULT_ACTIVATION_LIST_LENGTH = 0.0


@dataclass(frozen=True)
class Trigger:
    """One `redis` trigger: one Redis key, read with LLEN (or HLEN/ZCARD/SCARD by its type)."""

    key: str  # metadata.listName
    target: float = DEFAULT_LIST_LENGTH  # metadata.listLength
    activation: float = DEFAULT_ACTIVATION_LIST_LENGTH  # metadata.activationListLength
    name: str = ""  # the trigger's name: its variable in scalingModifiers.formula
    metric_type: MetricType = "AverageValue"
    # useCachedMetrics: the HPA reads the value of the last KEDA poll instead of querying live.
    use_cached: bool = False


@dataclass(frozen=True)
class Modifiers:
    """`advanced.scalingModifiers`: one composite metric replaces the per-trigger ones."""

    formula: str
    target: float
    activation_target: float = 0.0
    metric_type: MetricType = "AverageValue"


@dataclass(frozen=True)
class Policy:
    kind: PolicyType
    value: int
    period: int  # periodSeconds


@dataclass(frozen=True)
class Rules:
    """One direction of HPA `behavior` (scaleUp or scaleDown), defaults already filled in."""

    window: float  # stabilizationWindowSeconds
    policies: tuple[Policy, ...]
    select: SelectPolicy = "Max"
    # behavior.scale{Up,Down}.tolerance (HPAConfigurableTolerance gate); None = the 0.1 flag.
    tolerance: float | None = None


# pkg/apis/autoscaling/v2/defaults.go: filled in only when `behavior` is set at all.
DEFAULT_SCALE_UP = Rules(0.0, (Policy("Pods", 4, 15), Policy("Percent", 100, 15)))
# scaleDown's window is nil in the API defaults and falls back to the controller's 300 s flag.
DEFAULT_SCALE_DOWN = Rules(300.0, (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class Behavior:
    up: Rules = DEFAULT_SCALE_UP
    down: Rules = DEFAULT_SCALE_DOWN


@dataclass(frozen=True)
class ScaledObjectSpec:
    triggers: tuple[Trigger, ...]
    name: str = "scaledobject"
    polling_interval: float = DEFAULT_POLLING_INTERVAL
    cooldown: float = DEFAULT_COOLDOWN
    initial_cooldown: float = DEFAULT_INITIAL_COOLDOWN
    min_replicas: int = DEFAULT_MIN_REPLICAS
    max_replicas: int = DEFAULT_MAX_REPLICAS
    idle_replicas: int | None = None
    modifiers: Modifiers | None = None
    # None when the ScaledObject sets no behavior: KEDA then gives the HPA `behavior: nil`
    # (controllers/keda/hpa.go) and the HPA uses its legacy rules, not DEFAULT_SCALE_UP/DOWN.
    behavior: Behavior | None = None

    @property
    def hpa_min(self) -> int:
        # GetHPAMinReplicas: minReplicaCount if > 0, else 1 (KEDA owns 0 <-> 1).
        return self.min_replicas if self.min_replicas > 0 else 1

    @property
    def hpa_max(self) -> int:
        return self.max_replicas


@dataclass(frozen=True)
class KnativeSpec:
    """A revision's KPA settings (annotations + cluster defaults of `config-autoscaler`)."""

    name: str = "knative-service"
    # Resolved per pkg/reconciler/autoscaling/resources/target.go: containerConcurrency, or the
    # `target` annotation (capped at containerConcurrency), else 100.
    total_target: float = 100.0
    utilization: float = 0.7  # target-utilization-percentage / 100
    container_concurrency: int = 0
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    min_scale: int = 0
    max_scale: int = 0  # 0 = unbounded
    initial_scale: int = 1
    activation_scale: int = 1
    scale_down_delay: float = 0.0
    grace_period: float = 30.0  # scale-to-zero-grace-period
    retention: float = 0.0  # scale-to-zero-pod-retention-period
    target_burst_capacity: float = 211.0
    enable_scale_to_zero: bool = True
    # responseStartTimeoutSeconds, else timeoutSeconds (revision-timeout-seconds default 300):
    # how long the activator may hold a request during a cold start before answering 504.
    response_timeout: float = 300.0
    # How a new pod's readiness reaches the activator (knative.ready_after). A startup probe
    # (its periodSeconds, initialDelaySeconds) or an exec readiness probe make the activator
    # wait for the kubelet instead of probing the pod itself.
    startup_probe_period: float | None = None  # None: no startup probe
    startup_probe_delay: float = 0.0
    exec_readiness: bool = False
    # Kubelet path only: seconds from the kubelet seeing the pod Ready to the activator seeing
    # the endpoint (status update, EndpointSlice controller, the activator's informer). Not in
    # any source: an assumption to set from your cluster (`kubectl get endpointslices -w`).
    endpoint_lag: float = 1.0

    @property
    def target_value(self) -> float:
        return max(0.01, self.total_target * self.utilization)

    @property
    def panic_window(self) -> float:
        # Rounded to whole seconds, at least one 1 s bucket (config.go BucketSize).
        return max(1.0, float(round(self.stable_window * self.panic_window_percentage / 100)))

    @property
    def panic_threshold(self) -> float:
        return self.panic_threshold_percentage / 100

    @property
    def max_pods(self) -> float:
        return float(self.max_scale) if self.max_scale > 0 else math.inf


# ---- a simulated run (simulate.py) ---------------------------------------------------------
@dataclass(frozen=True)
class Workers:
    concurrency: int = 2  # SPILLWAY_WORKER_CONCURRENCY
    startup: float = 10.0
    grace: float = 25.0  # SPILLWAY_SOFT_SHUTDOWN_TIMEOUT
    task_seconds: float = 1.0
    distribution: Distribution = "exp"
    cv: float = 1.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:  # 0 would never start a task: the run would not end
            raise ValueError("--concurrency must be at least 1")


@dataclass(frozen=True)
class Api:
    spec: KnativeSpec | None = field(default_factory=KnativeSpec)  # None: no API modelled
    startup: float = 3.0
    latency: float = 0.01


@dataclass(frozen=True)
class RunConfig:
    scaled_object: ScaledObjectSpec
    workers: Workers = Workers()
    api: Api = Api()
    seed: int = 0
    start_replicas: int = 0
    hpa_offset: float = 0.0
    max_time: float | None = None  # default: last arrival + 6 h
    sample_every: float | None = None  # timeline interval; default: about 5,000 rows
