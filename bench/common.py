"""Shared helpers: child processes, CPU placement, HTTP probes, statistics, machine description."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from functions.localredis import RedisServer

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
BIN = Path(sys.executable).parent  # the venv's bin: uvicorn, spillway, celery
LOGS = Path(tempfile.mkdtemp(prefix="spillway-bench-"))


# --- CPU placement -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cpus:
    """Where things run. The server under test gets a core to itself; the load generator, Redis
    and this harness share the rest. On one core everything shares it (and the report says so)."""

    server: tuple[int, ...]
    load: tuple[int, ...]

    @classmethod
    def detect(cls) -> Cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(tuple(cpus), tuple(cpus))
        return cls((cpus[0],), tuple(cpus[1:]))

    def taskset(self, which: str) -> list[str]:
        cpus = self.server if which == "server" else self.load
        return ["taskset", "-c", ",".join(map(str, cpus))] if shutil.which("taskset") else []

    def describe(self) -> str:
        return (
            f"server under test on CPU {','.join(map(str, self.server))}; "
            f"load generator, Redis and harness on CPU {','.join(map(str, self.load))}"
        )


def pin(pid: int, cpus: Iterable[int]) -> None:
    """Pin every thread of `pid` (Redis has background threads) to `cpus`."""
    cpuset = set(cpus)
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpuset)
        except OSError:
            pass


# --- priority ------------------------------------------------------------------------------------
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


# --- processes -----------------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: LOGS / "unnamed.log")
    started_at: float = 0.0

    def start(self) -> Proc:
        self.log_path = LOGS / f"{self.name}-{time.monotonic_ns()}.log"
        log = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stop() reaches pool children
        )
        log.close()
        boost(self.process.pid)  # a new session is a new autogroup: raise its priority too
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Pool children and anything else left in the group we created.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> Proc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BenchError(RuntimeError):
    pass


# --- HTTP probes ---------------------------------------------------------------------------------
def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of one GET over a fresh connection, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(256)
                if not chunk:
                    return None
                head += chunk
            return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def wait_ok(
    port: int, path: str, proc: Proc, timeout: float = 30.0, interval: float = 0.002
) -> float:
    """Poll until GET `path` answers 200; the perf_counter time it first did."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if http_status(port, path) == 200:
            return time.perf_counter()
        if not proc.alive():
            raise BenchError(f"{proc.name} exited before {path} answered:\n{proc.log_tail()}")
        time.sleep(interval)
    raise BenchError(f"{proc.name}: {path} not 200 within {timeout:g}s:\n{proc.log_tail()}")


def http_post(port: int, path: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


# --- statistics ----------------------------------------------------------------------------------
def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median and spread of several runs."""
    vals = [float(v) for v in values]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0, "runs": []}
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
        "runs": vals,
    }


def rotate(items: Sequence[Any], by: int) -> list[Any]:
    by %= len(items)
    return [*items[by:], *items[:by]]


# Far above anything a run can enqueue, so Spillway's backlog check never answers 429.
MAX_BACKLOG = "1000000000"

# The same uvicorn options for every app a section serves (submit, cold start).
UVICORN_OPTS = (
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
)


# --- the machine ---------------------------------------------------------------------------------
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "redis",
    "celery",
    "kombu",
    "billiard",
    "prometheus-client",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (out.stdout or out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def code_state() -> dict[str, Any]:
    """Which code was measured: the commit, and a hash of functions/ as it is on disk (another
    engineer may be editing it, so the commit alone does not say)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "functions").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    dirty = _run(["git", "status", "--porcelain", "--", "functions"])
    return {
        "commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "functions_sha256": digest.hexdigest()[:16],
        "functions_uncommitted_files": len(dirty.splitlines()) if dirty else 0,
    }


def machine() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    wrk = _run(["wrk", "--version"]).splitlines()
    redis_version = _run(["redis-server", "--version"])
    return {
        "host": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "redis_server": redis_version.split(" sha=")[0] if redis_version else "-",
        "wrk": wrk[0].split(" Copyright")[0] if wrk else "-",
        "code": code_state(),
    }


# --- Redis ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def redis_server(cpus: Iterable[int]) -> Iterator[RedisServer]:
    """A private redis-server on a free port (functions.localredis), pinned to `cpus`."""
    server = RedisServer().start()
    assert server.process is not None
    pin(server.process.pid, cpus)
    boost(server.process.pid)
    try:
        yield server
    finally:
        server.close()


# --- other processes' CPU use --------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")
ROUND_ATTEMPTS = 3


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


def clean_only(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds marked clean (every run under OTHERS_LIMIT_PCT), or all if none is."""
    clean = [r for r in rounds if r["clean"]]
    return clean or rounds


def all_clean(runs: Iterable[dict[str, Any]]) -> bool:
    """Whether other work took at most OTHERS_LIMIT_PCT of the server's CPU in every run."""
    return all(x["others_on_server_cpu_pct"] <= OTHERS_LIMIT_PCT for x in runs)


def kept_rounds(rounds: list[dict[str, Any]]) -> set[int]:
    """Indices of the rounds clean_only keeps."""
    clean = clean_only(rounds)
    return {i for i, r in enumerate(rounds) if r in clean}


def clean_round(
    what: str,
    fn: Callable[[], T],
    log: Callable[[str], Any],
    waited: Callable[[T], float] = lambda result: 0.0,
) -> tuple[T, float, int]:
    """Run `fn` until other work took at most OTHERS_LIMIT_PCT of the server's CPU during it
    (`waited(result)`, see OthersOnCpu), at most ROUND_ATTEMPTS times. Returns the kept result,
    the share of the whole machine other processes used meanwhile (informative), and the
    attempts."""
    for attempt in range(1, ROUND_ATTEMPTS + 1):
        meter = ForeignCpu()
        result = fn()
        pct = meter.pct()
        wait = waited(result)
        if wait <= OTHERS_LIMIT_PCT or attempt == ROUND_ATTEMPTS:
            return result, pct, attempt
        log(
            f"  {what}: other processes took {wait:.0f}% of the server's CPU ({pct:.0f}% of the "
            f"machine); repeating it"
        )
    raise AssertionError("unreachable")


def clean_run(
    what: str, fn: Callable[[], dict[str, Any]], log: Callable[[str], Any]
) -> dict[str, Any]:
    """clean_round for a run whose result reports `others_on_server_cpu_pct`; the kept result
    gets `foreign_cpu_pct` and `attempts` added."""
    result, foreign, tries = clean_round(
        what, fn, log, lambda res: float(res["others_on_server_cpu_pct"])
    )
    result.update(foreign_cpu_pct=foreign, attempts=tries)
    return result
