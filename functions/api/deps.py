"""Dependencies, as `Annotated` aliases (`app.dependency_overrides` can swap them).

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
those hops cost more than the work they wrap (docs/benchmarks.md). Both read
`app.state.submitter` (the registry is the submitter's), as the submit routes
(routes/submissions.py) do directly, so the project's tests swap the submitter there
(tests/api/conftest.py).
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
    submitter: Submitter = request.app.state.submitter
    return submitter.registry


SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
