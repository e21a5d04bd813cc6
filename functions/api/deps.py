"""Dependencies, as `Annotated` aliases so tests can swap them with `app.dependency_overrides`.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
three thread hops per request cost more than the rest of the submit path together.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from functions.api.submit import Submitter
from functions.registry import Registry
from functions.settings import Settings, get_settings


async def settings_dependency() -> Settings:
    return get_settings()


async def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


def hot_submitter(request: Request) -> Submitter:
    """The submitter for the submit routes, which skip FastAPI's dependency solving for speed.

    Tests replace it the same way for every route: `app.state.submitter` and the override of
    `get_submitter` are set together (tests/api/conftest.py).
    """
    submitter: Submitter = request.app.state.submitter
    return submitter


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
