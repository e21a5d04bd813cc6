"""Dependencies, as `Annotated` aliases so tests can swap them with `app.dependency_overrides`.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
three thread hops per request cost more than the rest of the submit path together. The submit
routes (routes/invoke.py) take no dependencies and read `app.state.submitter` directly, so tests
set that too (tests/api/conftest.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from functions.api.submit import Submitter
from functions.registry import Registry


async def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
