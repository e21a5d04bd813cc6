"""In-process API tests: the real app and a real Redis, driven through httpx's ASGI transport."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from functions.api.main import app, redis_client, registry
from functions.api.resp import Client
from functions.api.submit import Submitter
from functions.localredis import RedisServer
from functions.settings import Settings


@contextmanager
def paused(server: RedisServer) -> Iterator[None]:
    """SIGSTOP the server: the kernel still accepts connections and buffers what is written, but
    nothing is read or answered until SIGCONT."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(REDIS_URL=redis_url)


@pytest.fixture
def use_settings(redis_url: str) -> Iterator[Callable[..., Settings]]:
    """Override the app's settings and submitter for one test: `use_settings(MAX_BACKLOG=2)`."""
    clients: list[Client] = []

    def apply(**overrides: object) -> Settings:
        # Without API keys unless a test asks for them (tests/api/auth/).
        values: dict[str, object] = {"REDIS_URL": redis_url, "AUTH": "off", **overrides}
        settings = Settings(**values)  # type: ignore[arg-type]
        client = redis_client(settings.REDIS_URL, settings.REDIS_TIMEOUT)
        clients.append(client)
        submitter = Submitter(client, settings, registry)
        app.state.submitter = submitter  # read by the routes and the dependencies (api/deps.py)
        return settings

    apply.clients = clients  # type: ignore[attr-defined]  # closed by `client`, in the loop
    yield apply


@pytest.fixture
async def client(
    redis_url: str, redis_client: redis.Redis, use_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        use_settings()  # after the lifespan, which installs the app's own submitter
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spillway") as c:
            yield c
        for redis_client_ in use_settings.clients:  # type: ignore[attr-defined]
            await redis_client_.aclose()


@pytest.fixture
def make_key(redis_client: redis.Redis) -> Callable[..., str]:
    """Create an API key in the test's Redis and return its token:
    `make_key("acme", scopes=("invoke",), rate=1, burst=2)` (ApiKey fields)."""
    from functions.apikeys.model import ApiKey
    from functions.apikeys.store import KeyStore

    store = KeyStore(redis_client, "")

    def make(tenant: str = "acme", **fields: Any) -> str:
        template = ApiKey(id="", tenant=tenant, sha256="", **fields)
        return store.create(template)[1]

    return make


@pytest.fixture
async def auth_client(
    client: httpx.AsyncClient, use_settings: Callable[..., Settings]
) -> httpx.AsyncClient:
    """The in-process API with SPILLWAY_AUTH=required (keys from `make_key`)."""
    use_settings(AUTH="required")
    return client
