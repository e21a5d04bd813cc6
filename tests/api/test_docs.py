"""/docs and /redoc work offline: every file the pages load is served by the API itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from functions.api.main import app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def docs_client() -> AsyncIterator[httpx.AsyncClient]:
    """No lifespan and no Redis: the docs pages need neither."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://spillway") as client:
        yield client


def _loaded(page: str) -> list[str]:
    """Every URL the page makes the browser load: src/href attributes and quoted URL values."""
    attributes = re.findall(r'(?:src|href)="([^"]+)"', page)
    values = re.findall(r"url: '([^']+)'", page) + re.findall(r'spec-url="([^"]+)"', page)
    return attributes + values


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc")]
)
async def test_the_page_loads_only_files_the_api_serves(
    docs_client: httpx.AsyncClient, page: str, script: str
) -> None:
    response = await docs_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    loaded = _loaded(response.text)
    assert any(script in url for url in loaded), loaded
    assert "http" not in response.text  # no absolute URL at all: no CDN, no fonts, no favicon
    for url in loaded:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = await docs_client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_the_swagger_bundle_is_swagger_ui_5(docs_client: httpx.AsyncClient) -> None:
    """FastAPI documents OpenAPI 3.1, which Swagger UI renders from version 5 on."""
    assert (await docs_client.get("/openapi.json")).json()["openapi"].startswith("3.1")
    bundle = await docs_client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert re.search(r'version:"5\.\d+\.\d+"|"5\.\d+\.\d+"', bundle.text)


async def test_behind_a_path_prefix_the_urls_carry_it() -> None:
    transport = httpx.ASGITransport(app=app, root_path="/spillway")
    async with httpx.AsyncClient(transport=transport, base_url="http://spillway") as client:
        page = (await client.get("/docs")).text
    assert all(url.startswith("/spillway/") for url in _loaded(page)), _loaded(page)


@pytest.mark.parametrize("name", ["nope.js", "..%2Fcore.py", "%2E%2E%2F__init__.py"])
async def test_nothing_but_the_assets_is_served(docs_client: httpx.AsyncClient, name: str) -> None:
    assert (await docs_client.get(f"/docs/assets/{name}")).status_code == 404
