"""`spillway dev`: the whole system on one machine (Redis, the API, workers), Ctrl-C to stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

from functions.localredis import NoRedis, free_port, private_redis, reachable
from functions.settings import get_settings, redact_url


@contextlib.contextmanager
def _redis(url: str) -> Iterator[str]:
    if reachable(url):
        print(f"using Redis at {redact_url(url)}")
        yield url
        return
    print(f"no Redis at {redact_url(url)}; starting a private one")
    with private_redis() as private_url:
        print(f"started Redis at {private_url}")
        yield private_url


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "functions.cli", *args], env=env)


def _wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 40
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(port: int, workers: int) -> int:
    settings = get_settings()
    try:
        redis_cm = _redis(settings.REDIS_URL)
        redis_url = redis_cm.__enter__()
    except NoRedis as exc:
        print(f"spillway: error: {exc}", file=sys.stderr)
        return 2
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {**os.environ, "REDIS_URL": redis_url}
        procs.append(_spawn(["api", "--port", str(port)], env))
        for _ in range(workers):
            procs.append(_spawn(["worker"], {**env, "SPILLWAY_WORKER_HTTP_PORT": str(free_port())}))
        base = f"http://127.0.0.1:{port}"
        if not _wait_ready(f"{base}/readyz", procs):
            print("spillway: error: the API did not become ready", file=sys.stderr)
            return 1
        print(f"\nSpillway is up: {base}  (docs {base}/docs, Ctrl-C to stop)")
        print(
            f"  try: curl -s -XPOST {base}/v1/functions/echo/invocations?wait=5 "
            "-H 'content-type: application/json' -d '{\"hello\": \"world\"}'\n"
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("spillway: a process exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...")
        return 0
    finally:
        _stop(procs)
        redis_cm.__exit__(None, None, None)
