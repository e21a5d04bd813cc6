"""What one `spillway load` run is asked to do: every option, checked, in one object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.loadtest.profiles import Profile


@dataclass(frozen=True)
class LoadConfig:
    url: str
    profile: Profile
    out: Path
    function: str = "sleep"
    payload: Any = None
    batch: int = 0
    max_in_flight: int = 256
    timeout: float = 30.0
    retries: int = 3
    max_retry_wait: float = 30.0
    redis_url: str | None = None
    key_prefix: str = ""
    pool: str = ""
    queue: str | None = None
    kube_deployment: tuple[str, str] | None = None
    sample_interval: float = 1.0
    pod_target: float = 2.0
    drain_timeout: float = 300.0
    settle: float = 0.0
    poll_concurrency: int = 32
    progress: bool = False
    compare_sim: bool = False
    scaledobject: Path | None = None  # with compare_sim, the ScaledObject to simulate
    task_seconds: float | None = None
    sim_args: list[str] = field(default_factory=list)


def key_headers() -> dict[str, str]:
    """`Authorization: Bearer $SPILLWAY_API_KEY` for an API that requires keys (a cluster's),
    nothing when the variable is unset (`spillway dev`)."""
    key = os.environ.get("SPILLWAY_API_KEY")
    return {"authorization": f"Bearer {key}"} if key else {}
