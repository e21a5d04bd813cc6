"""Real `spillway worker` processes that the local scaler starts and stops, like a ReplicaSet."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from functions.localredis import free_port

# The scaler ticks ten times a second; probing every worker's /healthz that often is waste.
READY_CHECK_EVERY = 0.5


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started_at: float = field(default_factory=time.monotonic)
    terminating_since: float | None = None
    ready: bool = False
    checked_at: float = 0.0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class WorkerPool:
    """Keeps `desired` workers running; scale-in sends SIGTERM to randomly chosen workers.

    The pick is random on purpose: Kubernetes' ReplicaSet controller, not KEDA, chooses which
    pods go, and it does not prefer idle ones (kedacore/keda#3674). A terminating worker takes
    the soft-shutdown path (running tasks finish or are requeued) and is killed after `grace`.
    """

    def __init__(
        self, env: dict[str, str], *, grace: float, log_dir: Path | None = None, seed: int = 0
    ) -> None:
        self.env = env
        self.grace = grace
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="spillway-workers-"))
        self.workers: list[Worker] = []
        self.rng = random.Random(seed)

    @property
    def running(self) -> list[Worker]:
        return [w for w in self.workers if w.alive and w.terminating_since is None]

    @property
    def terminating(self) -> list[Worker]:
        return [w for w in self.workers if w.alive and w.terminating_since is not None]

    def scale_to(self, desired: int) -> None:
        running = self.running
        for _ in range(desired - len(running)):
            self._start()
        if desired < len(running):
            for worker in self.rng.sample(running, len(running) - desired):
                worker.terminating_since = time.monotonic()
                worker.process.send_signal(signal.SIGTERM)

    def _start(self) -> None:
        port = free_port()
        log = self.log_dir / f"worker-{len(self.workers) + 1}-{port}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "functions.cli", "worker"],
                env={**self.env, "SPILLWAY_WORKER_HTTP_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(Worker(process=process, port=port, log=log))

    def poll(self) -> None:
        """Reap exited workers, kill those past their grace period, refresh readiness."""
        now = time.monotonic()
        for worker in self.workers:
            if worker.terminating_since is not None and worker.alive:
                if now - worker.terminating_since > self.grace:
                    _kill_group(worker.process.pid)  # the kubelet's SIGKILL
            elif worker.alive and now - worker.checked_at >= READY_CHECK_EVERY:
                worker.ready = _healthy(worker.port)
                worker.checked_at = now
        self.workers = [w for w in self.workers if w.alive]

    @property
    def ready_count(self) -> int:
        return sum(1 for w in self.running if w.ready)

    def stop(self, timeout: float = 60) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            try:
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(worker.process.pid)
                worker.process.wait()
        self.workers = []


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
