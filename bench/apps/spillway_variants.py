"""Diagnostic variants of Spillway's API and worker for bench/ablate.py (not used by bench/run).

Each variant changes one thing from outside functions/, so its cost can be measured in the same
run as the unchanged code:
  API     `bench.apps.spillway_variants:api_async_deps`: the same app with its three `def`
          dependencies (settings, submitter, registry) replaced by `async def` equivalents,
          which FastAPI calls inline instead of in its thread pool.
  worker  `-A bench.apps.spillway_variants:worker`: Spillway's Celery app with the settings in
          $BENCH_CELERY_OVERRIDES (JSON) applied on top, e.g. task events off.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI, Request


def _api_async_deps() -> FastAPI:
    # Rebind the dependency aliases before the routes import them, so the routes are built with
    # async dependencies from the start (dependency_overrides would re-inspect them per request).
    import sys
    from typing import Annotated

    from fastapi import Depends

    from functions.api import deps
    from functions.settings import Settings, get_settings

    if "functions.api.main" in sys.modules:
        raise RuntimeError("the async-deps variant must be imported before functions.api.main")
    settings = get_settings()

    async def settings_dep() -> Settings:
        return settings

    async def submitter_dep(request: Request) -> Any:
        return request.app.state.submitter

    async def registry_dep(request: Request) -> Any:
        return request.app.state.registry

    deps.SettingsDep = Annotated[Settings, Depends(settings_dep)]  # type: ignore[misc]
    deps.SubmitterDep = Annotated[Any, Depends(submitter_dep)]  # type: ignore[misc]
    deps.RegistryDep = Annotated[Any, Depends(registry_dep)]  # type: ignore[misc]
    from functions.api.main import app

    return app


def __getattr__(name: str) -> Any:
    # Built on first access, so importing one variant does not build the other.
    if name == "api_async_deps":
        app = globals()["api_async_deps"] = _api_async_deps()
        return app
    if name == "worker":
        from functions.worker.app import app

        app.conf.update(json.loads(os.environ.get("BENCH_CELERY_OVERRIDES", "{}")))
        return app
    raise AttributeError(name)
