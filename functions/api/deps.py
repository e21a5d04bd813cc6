"""Dependencies, as `Annotated` aliases so tests can swap them with `app.dependency_overrides`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from functions.api.submit import Submitter
from functions.registry import Registry
from functions.settings import Settings, get_settings


def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


SettingsDep = Annotated[Settings, Depends(get_settings)]
SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
