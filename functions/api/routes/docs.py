"""The interactive API docs, /docs (Swagger UI) and /redoc, served without any CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr and a favicon from its website, so
offline, and in an air-gapped cluster, /docs is a blank page. Here the same pages
(`fastapi.openapi.docs`, as FastAPI's how-to "Custom Docs UI Static Assets" describes) point at
files this API serves itself, taken from the `fastapi-offline` package, which ships Swagger UI 5
(OpenAPI 3.1, what FastAPI generates) and ReDoc. Only the pages and those four files are routed:
no directory is exposed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

# The files of fastapi-offline's wheel (fastapi_offline/static), by the name they are served as.
_STATIC = Path(str(files("fastapi_offline") / "static"))
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# The files change only with the package: a day of caching spares a reload of 1.5 MB.
_CACHE = {"cache-control": "public, max-age=86400"}

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    """The path prefix the API is mounted under (a proxy's root_path), or ''."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    base = _base(request)
    return get_swagger_ui_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
        oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT}",
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    base = _base(request)
    return get_redoc_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no docs asset named {name!r}")
    return FileResponse(_STATIC / name, media_type=media_type, headers=_CACHE)
