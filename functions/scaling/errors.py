"""Every error the scaling engine raises on purpose, under one base.

    ScalingError        the input cannot be modelled; the first line of the message says why
    ├── ManifestError   a ScaledObject or Knative Service cannot be read, or is not modelled
    ├── OverrideError   a `--set` or `--grid` setting is unknown, or its value is not valid
    ├── MetricsError    a recorded metric series (`replay --metrics`) cannot be read
    ├── FormulaError    `scalingModifiers.formula` is outside the expr-lang subset modelled
    ├── WorkloadError   arrivals or service times cannot be read or generated
    └── SweepError      a `--slo` or `--grid` does not describe a sweep

Callers (`spillway simulate`, `spillway dev`, `spillway load --compare-sim`) catch ScalingError
and show its message; anything else the engine raises is a bug and keeps its traceback.
"""

from __future__ import annotations


class ScalingError(Exception):
    """Input the engine cannot model."""


class ManifestError(ScalingError):
    """A manifest that cannot be read (file, YAML, kustomize) or that the engine does not model."""


class OverrideError(ScalingError):
    """A what-if setting (`--set KEY=VALUE`, a `--grid` key) that is unknown or malformed."""


class MetricsError(ScalingError):
    """A metric series CSV that cannot be read, or lacks a column a trigger needs."""


class FormulaError(ScalingError):
    """A `scalingModifiers.formula` outside the modelled expr-lang subset, or one that fails."""


class WorkloadError(ScalingError):
    """Arrival or service-time parameters that describe no workload, or an unreadable trace."""


class SweepError(ScalingError):
    """A sweep's SLO or grid that cannot be run."""
