"""Child processes of the suite: their environment, their logs, and stopping their whole group."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness.priority import boost

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin: uvicorn, spillway, celery

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


class BenchError(RuntimeError):
    """A section cannot measure what it set out to (a server did not start, a run failed)."""


@functools.cache
def logs() -> Path:
    """This run's folder for the children's logs, created on first use (`python -m bench`
    removes it at the end)."""
    return Path(tempfile.mkdtemp(prefix="spillway-bench-"))


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = str(ROOT)
    env["SPILLWAY_AUTH"] = "off"  # the sections that measure API keys turn them on
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(os.devnull))  # set by start()
    started_at: float = 0.0

    def start(self) -> Proc:
        self.log_path = logs() / f"{self.name}-{time.monotonic_ns()}.log"
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
