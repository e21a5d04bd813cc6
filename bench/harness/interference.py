"""How much CPU other work took while something was measured (another engineer's test run on
the same cores, say): the figures the repeat policy (repeat.py) decides on."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime in ticks) for every process now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        table[int(entry)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    return table


class ForeignCpu:
    """How much CPU processes outside this harness's tree used during a measurement, as a share
    of the whole machine. Another engineer's test run on the same two cores shows up here, and
    the runners repeat a round it spoiled. (Processes that start and exit within the window are
    missed, so this is a lower bound.)"""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.before = _proc_table()

    def pct(self) -> float:
        after = _proc_table()
        wall = time.monotonic() - self.started
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in {**self.before, **after}.items():
            children.setdefault(ppid, []).append(pid)
        ours, stack = set(), [os.getpid()]
        while stack:
            pid = stack.pop()
            if pid not in ours:
                ours.add(pid)
                stack.extend(children.get(pid, []))
        ticks = sum(
            max(0, t - self.before.get(pid, (0, 0))[1])
            for pid, (_, t) in after.items()
            if pid not in ours
        )
        return 100.0 * ticks / _TICK / max(wall, 1e-3) / (os.cpu_count() or 1)


def _cpu_ticks(cpus: Iterable[int]) -> int:
    """user + nice + system ticks of `cpus` so far (/proc/stat)."""
    wanted = {f"cpu{c}" for c in cpus}
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            total += int(fields[1]) + int(fields[2]) + int(fields[3])
    return total


def _tree_ticks(pid: int) -> int:
    """utime + stime of `pid` (all its threads) and of its child processes."""
    return sum(t for p, (ppid, t) in _proc_table().items() if p == pid or ppid == pid)


class OthersOnCpu:
    """CPU time that anything but the process under test (and its children) took on the CPUs
    reserved for it, as a % of the elapsed time: how much other work on the machine (another
    engineer's test run, say) competed with the measured server. Threads of the server itself
    do not count, nor does the kernel's softirq work for its sockets."""

    def __init__(self, pid: int, cpus: Iterable[int], fresh: bool = False) -> None:
        self.pid = pid
        self.cpus = tuple(cpus)
        self.started = time.monotonic()
        self.cpu0 = _cpu_ticks(self.cpus)
        self.own0 = 0 if fresh else _tree_ticks(pid)

    def pct(self) -> float:
        cpu = _cpu_ticks(self.cpus) - self.cpu0
        own = _tree_ticks(self.pid) - self.own0
        wall = max(time.monotonic() - self.started, 1e-3)
        return max(0.0, 100.0 * (cpu - own) / _TICK / wall / len(self.cpus))


OTHERS_LIMIT_PCT = 5.0  # a run where others took more of the server's CPU is repeated
