"""`spillway dev`: Redis, the API and KEDA-scaled workers on one machine; Ctrl-C stops it all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import redis

from functions import checkout
from functions.cliargs import fail
from functions.dev.errors import DevError
from functions.dev.lock import DevLock
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


READY_TIMEOUT = 60.0


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> None:
    """Return once `url` answers 200 while `proc` is alive (the port was checked free before it
    started, so the answer is its own); else stop the command with what happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(
                f"the API exited (status {proc.returncode}) before it was ready; "
                "its output is above",
                status=1,
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200 and proc.poll() is None:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"the API did not answer {url} within {timeout:g} s; its output is above", status=1)


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
        base = f"http://127.0.0.1:{port}"
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        stack.callback(client.close)
        lock = DevLock(client, settings.KEY_PREFIX, base)
        try:
            lock.acquire(redact_url(redis_url))
        except DevError as exc:
            fail(str(exc))
        except redis.RedisError as exc:
            fail(f"the Redis at {redact_url(redis_url)} stopped answering: {exc}", status=1)
        stack.callback(lock.release)
        from functions.dev.sender import callback_env, start_sender

        # A laptop's API: no keys, no tenants, no quotas (the manifests set `required`).
        env, notes = callback_env({**os.environ, "REDIS_URL": redis_url, "SPILLWAY_AUTH": "off"})
        api = subprocess.Popen(
            [sys.executable, "-m", "functions.cli", "api", "--port", str(port)], env=env
        )
        stack.callback(_stop, api)
        from functions.dev.pool import WorkerPool

        pool = WorkerPool(env, grace=settings.SOFT_SHUTDOWN_TIMEOUT + 15)
        stack.callback(pool.stop)
        sender, sender_log = start_sender(env)
        stack.callback(_stop, sender)
        try:
            _wait_ready(f"{base}/readyz", api)  # or fail: the stack stops what started
            print(f"\nSpillway is up: {base}  (docs {base}/docs, Ctrl-C to stop)")
            print(f"  sender: delivers callbacks (X-Callback-Url); its log is {sender_log}")
            for note in notes:
                print(f"  {note}")
            print("  API keys are OFF (SPILLWAY_AUTH=off): anyone who reaches the port may call it")
            print(
                f"  try: curl -s -XPOST '{base}/v1/functions/echo/invocations?wait=10' "
                "-H 'content-type: application/json' -d '{\"hello\": \"world\"}'"
            )
            # The Redis URL is what lets `spillway load` sample the queue and this scaler; a
            # REDIS_URL the user gave may hold a password, so it is named, not printed.
            shown = '"$REDIS_URL"' if explicit else redis_url
            print(
                f"  load test: {checkout.command()} load --url {base} --redis-url {shown} "
                "--profile burst --count 40 --out runs/burst-40"
            )
            if spec is None:
                print(f"  {workers or 0} worker(s), fixed (no scaler)\n")
                pool.scale_to(workers or 0)
                while api.poll() is None:
                    lock.renew()
                    pool.poll()
                    time.sleep(0.5)
            else:
                print(
                    f"  workers scale 0..{spec.max_replicas} on the ScaledObject in "
                    f"{spec_source}{' (FAST mode: the scaler clock runs 10x)' if fast else ''}"
                    f"; state in Redis key spillway:dev:scaler\n"
                )
                _scale(
                    spec, pool, client, settings.KEY_PREFIX, base, fast, lambda: _alive(api, lock)
                )
            print("spillway: the API exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping...")
            return 0


def _alive(api: subprocess.Popen[bytes], lock: DevLock) -> bool:
    """Whether to go on: the API runs. Also keeps the lock, on every scaler tick."""
    lock.renew()
    return api.poll() is None


def _scale(
    spec: ScaledObjectSpec,
    pool: WorkerPool,
    client: redis.Redis,
    prefix: str,
    base: str,
    fast: bool,
    alive: Callable[[], bool],
) -> None:
    from functions.dev.observe import Observer
    from functions.dev.scaler import LocalScaler
    from functions.dev.state import StatePublisher
    from functions.dev.view import View
    from functions.registry import load_modules

    settings = get_settings()
    queues = load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES).queues()
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
        scaler.run_forever(alive)
