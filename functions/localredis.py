"""A private Redis for local runs and tests: `redis-server` from PATH, else testcontainers."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis


class NoRedis(RuntimeError):
    pass


HOW_TO_GET_REDIS = (
    "no Redis reachable and none can be started: install redis-server (e.g. apt-get install "
    "redis-server), run Docker for testcontainers, or set REDIS_URL to a Redis you run"
)


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
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="spillway-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise NoRedis("redis-server is not on PATH")
        args = [
            binary,
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


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """Yield the URL of a Redis only this process uses; raise NoRedis with the options if none."""
    if shutil.which("redis-server"):
        server = RedisServer().start()
        try:
            yield server.url
        finally:
            server.close()
        return
    if _docker_available():
        try:
            from testcontainers.redis import RedisContainer
        except ImportError as exc:
            raise NoRedis(HOW_TO_GET_REDIS) from exc
        with RedisContainer("redis:7.4-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    raise NoRedis(HOW_TO_GET_REDIS)
