"""`spillway dev`: Redis, the API and KEDA-scaled workers on one machine; Ctrl-C stops it all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import redis

from functions.cliargs import fail
from functions.localredis import NoRedis, private_redis, reachable, server_version
from functions.settings import get_settings, redact_url

if TYPE_CHECKING:  # the scaler's modules load only when it runs (they need the tools extra)
    from functions.dev.pool import WorkerPool
    from functions.scaling.spec import ScaledObjectSpec


@contextlib.contextmanager
def _redis(explicit_url: str | None) -> Iterator[str]:
    """REDIS_URL when the user gave one, else a private Redis, never whatever happens to answer
    at the default URL (a shared Redis the tests or another project flush)."""
    if explicit_url:
        shown = redact_url(explicit_url)
        if not reachable(explicit_url):
            raise NoRedis(f"no Redis answers at REDIS_URL={shown}; unset it to use a private one")
        print(f"Redis: {shown} (REDIS_URL), version {server_version(explicit_url)}")
        yield explicit_url
        return
    print("Redis: no REDIS_URL given, starting a private one")
    with private_redis() as server:
        print(f"Redis: {server.description}; set REDIS_URL to use another")
        print(f"started Redis at {server.url}")
        yield server.url


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(
    *,
    port: int,
    workers: int | None,
    fast: bool,
    spec: ScaledObjectSpec | None,
    spec_source: str,
) -> int:
    """Run until Ctrl-C (0) or until the API exits (1). `workers`: that many workers and no
    scaler; else `spec` (the ScaledObject, read from `spec_source`) scales them."""
    # `kill`, `timeout` and service managers send SIGTERM: stop as cleanly as on Ctrl-C, so
    # no worker or private Redis outlives us.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = get_settings()
    with contextlib.ExitStack() as stack:
        try:
            explicit = os.environ.get("REDIS_URL") or os.environ.get("SPILLWAY_REDIS_URL")
            redis_url = stack.enter_context(_redis(explicit))
        except NoRedis as exc:
            fail(str(exc))
        env = {**os.environ, "REDIS_URL": redis_url}
        api = subprocess.Popen(
            [sys.executable, "-m", "functions.cli", "api", "--port", str(port)], env=env
        )
        stack.callback(_stop, api)
        from functions.dev.pool import WorkerPool

        pool = WorkerPool(env, grace=settings.SOFT_SHUTDOWN_TIMEOUT + 15)
        stack.callback(pool.stop)
        base = f"http://127.0.0.1:{port}"
        try:
            if not _wait_ready(f"{base}/readyz", api):
                fail("the API did not become ready", status=1)  # the stack stops what started
            print(f"\nSpillway is up: {base}  (docs {base}/docs, Ctrl-C to stop)")
            print(
                f"  try: curl -s -XPOST '{base}/v1/functions/echo/invocations?wait=10' "
                "-H 'content-type: application/json' -d '{\"hello\": \"world\"}'"
            )
            if spec is None:
                print(f"  {workers or 0} worker(s), fixed (no scaler)\n")
                pool.scale_to(workers or 0)
                while api.poll() is None:
                    pool.poll()
                    time.sleep(0.5)
            else:
                print(
                    f"  workers scale 0..{spec.max_replicas} on the ScaledObject in "
                    f"{spec_source}{' (FAST mode: the scaler clock runs 10x)' if fast else ''}"
                    f"; state in Redis key spillway:dev:scaler\n"
                )
                _scale(spec, pool, redis_url, settings.KEY_PREFIX, base, fast, api)
            print("spillway: the API exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping...")
            return 0


def _scale(
    spec: ScaledObjectSpec,
    pool: WorkerPool,
    redis_url: str,
    prefix: str,
    base: str,
    fast: bool,
    api: subprocess.Popen[bytes],
) -> None:
    from functions.dev.observe import Observer
    from functions.dev.scaler import LocalScaler
    from functions.dev.state import StatePublisher
    from functions.dev.view import View
    from functions.registry import load_modules

    settings = get_settings()
    queues = load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES).queues()
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    observer = Observer(client, prefix, queues, base)
    with View(title=f"spillway dev: {base}", fast=fast) as view:
        scaler = LocalScaler(
            spec,
            pool,
            observer,
            StatePublisher(client, prefix),
            view,
            fast=fast,
            worker_concurrency=settings.WORKER_CONCURRENCY,
        )
        scaler.run_forever(lambda: api.poll() is None)
