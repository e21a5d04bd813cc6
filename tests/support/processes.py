"""Real processes for end-to-end tests: `spillway api` under uvicorn, `spillway worker` and
`spillway sender`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.localredis import NoRedis, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
TEST_FUNCTIONS = "functions.builtins,tests.support.functions"


def base_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.update(
        REDIS_URL=redis_url,
        PYTHONPATH=str(ROOT),
        SPILLWAY_FUNCTION_MODULES=TEST_FUNCTIONS,
        SPILLWAY_LOG_LEVEL="INFO",
        # Short enough that stopping a busy worker does not dominate the suite's time.
        SPILLWAY_SOFT_SHUTDOWN_TIMEOUT="3",
        # Tests that are not about API keys run without them; tests/api/auth/ turns them on.
        SPILLWAY_AUTH="off",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.process.pid, sig)

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the process and its pool children (its process group)."""
        os.killpg(self.process.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the process and its pool children, as the kubelet does at the grace deadline."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
        else:
            # Reap orphaned pool children of a worker whose main process died.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return self.process.returncode


def redis_server_or_skip(reason: str, **options: Any) -> RedisServer:
    """Start a private redis-server (`options` for functions.localredis.RedisServer), or skip the
    test with `reason` (what needs one) and why not."""
    server = RedisServer(**options)
    try:
        server.start()
    except NoRedis as exc:
        pytest.skip(f"{reason}: {exc}")
    return server


def spawn(name: str, args: list[str], env: dict[str, str]) -> Proc:
    log = Path(tempfile.mkstemp(prefix=f"spillway-{name}-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "functions.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill_group reaches pool children
        )
    return Proc(name=name, process=process, log_path=log)


def spawn_dev(
    redis_url: str | None, *args: str, path: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`spillway dev` with its output piped, in its own process group (so a test can signal all
    of it, as Ctrl-C in a terminal does), and the URL its API will serve.

    redis_url None: no REDIS_URL at all, so dev starts a private Redis; `path` replaces PATH."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.pop("REDIS_URL", None)
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if path is not None:
        env["PATH"] = path
    env["SPILLWAY_SOFT_SHUTDOWN_TIMEOUT"] = "2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions.cli", "dev", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: Proc | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise AssertionError(
                f"{proc.name} exited while waiting for {what}:\n{proc.log()[-3000:]}"
            )
        if check():
            return
        time.sleep(0.05)
    detail = f"\n{proc.log()[-3000:]}" if proc is not None else ""
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{detail}")


def get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_api(redis_url: str, **settings: str) -> Proc:
    port = free_port()
    proc = spawn(
        "api", ["api", "--port", str(port), "--host", "127.0.0.1"], base_env(redis_url, **settings)
    )
    proc.url = f"http://127.0.0.1:{port}"
    wait_until(lambda: get_ok(f"{proc.url}/healthz"), 30, "the API to start", proc)
    return proc


def start_worker(redis_url: str, *celery_args: str, **settings: str) -> Proc:
    port = free_port()
    settings.setdefault("SPILLWAY_WORKER_HTTP_PORT", str(port))
    args = ["worker"]
    if celery_args:
        args += ["--", *celery_args]
    proc = spawn("worker", args, base_env(redis_url, **settings))
    proc.url = f"http://127.0.0.1:{settings['SPILLWAY_WORKER_HTTP_PORT']}"
    wait_until(lambda: get_ok(f"{proc.url}/healthz"), 60, "the worker to consume", proc)
    return proc


def start_sender(redis_url: str, **settings: str) -> Proc:
    """`spillway sender`, ready once its /healthz answers (its first sweep reached Redis)."""
    port = free_port()
    settings.setdefault("SPILLWAY_SENDER_HTTP_PORT", str(port))
    proc = spawn("sender", ["sender"], base_env(redis_url, **settings))
    proc.url = f"http://127.0.0.1:{settings['SPILLWAY_SENDER_HTTP_PORT']}"
    wait_until(lambda: get_ok(f"{proc.url}/healthz"), 30, "the sender to start", proc)
    return proc
