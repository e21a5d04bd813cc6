"""A grid over trigger settings: simulate each cell, recommend the cheapest that meets an SLO."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.scaling import manifests, overrides
from functions.scaling.errors import SweepError
from functions.scaling.manifests import Doc
from functions.scaling.simulate import Simulation
from functions.scaling.spec import RunConfig, ScaledObjectSpec

Assignment = tuple[str, str]


@dataclass(frozen=True)
class Slo:
    percentile: int
    seconds: float

    @property
    def key(self) -> str:
        return f"queue_wait_p{self.percentile}_s"

    def __str__(self) -> str:
        return f"p{self.percentile} queue wait <= {self.seconds:g} s"


def parse_slo(text: str) -> Slo:
    """`p95=30s`, `p99=2m`, `p50=5` (seconds)."""
    m = re.fullmatch(r"p(50|95|99)=(\d+(?:\.\d+)?)(s|m)?", text.strip())
    if m is None:
        raise SweepError(f"--slo must look like p95=30s (p50, p95 or p99), got {text!r}")
    seconds = float(m.group(2)) * (60 if m.group(3) == "m" else 1)
    return Slo(int(m.group(1)), seconds)


def parse_axis(text: str) -> tuple[str, list[str]]:
    """`listLength=2,4,8`: one key, several values."""
    key, value = overrides.parse_assignment(text)
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not values:
        raise SweepError(f"--grid {key}= needs at least one value")
    overrides.check_key(key)
    return key, values


def cells(axes: list[tuple[str, list[str]]]) -> list[list[Assignment]]:
    keys = [k for k, _ in axes]
    combos = itertools.product(*(values for _, values in axes))
    return [list(zip(keys, combo, strict=True)) for combo in combos]


def meets(summary: dict[str, Any], slo: Slo) -> bool:
    """Every task completed, and the queue-wait percentile within the SLO."""
    wait = summary.get(slo.key)
    return summary["completed"] == summary["tasks"] and wait is not None and wait <= slo.seconds


@dataclass
class Cell:
    settings: list[Assignment]
    summary: dict[str, Any]
    meets: bool


def run_sweep(
    doc: Doc,
    axes: list[tuple[str, list[str]]],
    make_config: Callable[[ScaledObjectSpec], RunConfig],
    arrivals: list[float],
    slo: Slo,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Cell]:
    """Every cell of the grid, run on the same arrivals and seed. Specs are checked first."""
    grid = cells(axes)
    specs = [manifests.scaled_object_spec(overrides.apply(doc, cell)) for cell in grid]
    out = []
    for n, (cell, spec) in enumerate(zip(grid, specs, strict=True), start=1):
        summary = Simulation(make_config(spec), arrivals).run().summary
        out.append(Cell(cell, summary, meets(summary, slo)))
        if progress is not None:
            progress(n, len(grid))
    return out


def recommend(results: list[Cell], slo: Slo) -> Cell | None:
    """The cheapest cell (worker pod-seconds) that meets the SLO; ties: the lower wait."""
    meeting = [c for c in results if meets(c.summary, slo)]
    if not meeting:
        return None
    return min(meeting, key=lambda c: (c.summary["pod_seconds"], c.summary[slo.key]))
