"""The suite and what it starts run at a higher priority, so other work disturbs them less."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIORITY = -10


def boost(pid: int = 0) -> None:
    """Run `pid` (0: this process) at nice PRIORITY, so other work on a shared machine disturbs
    the measurements less. With scheduler autogroups (one per session, the default on desktop
    and many VM kernels) a process's nice only ranks it within its session's group and groups
    compete as equals, so the group's nice (/proc/PID/autogroup) is set too. Needs root;
    without it, nothing changes."""
    target = pid or os.getpid()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, target, PRIORITY)
    with contextlib.suppress(OSError):
        Path(f"/proc/{target}/autogroup").write_text(str(PRIORITY))


def priority() -> str:
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        group = Path("/proc/self/autogroup").read_text().split()[-1]
    except (OSError, IndexError):
        group = "-"
    return f"nice {nice}, autogroup nice {group}"
