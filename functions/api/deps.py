"""Dependencies, as `Annotated` aliases (`app.dependency_overrides` can swap them).

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, and
those hops cost more than the work they wrap (docs/benchmarks.md). Both read
`app.state.submitter` (the registry is the submitter's), as the submit routes
(routes/submissions.py) do directly, so the project's tests swap the submitter there
(tests/api/conftest.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from functions.api.auth import Caller, authenticate, require
from functions.api.submit import Submitter
from functions.deadletters.store import DeadLetters, Lua
from functions.registry import Registry


async def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


async def get_registry(request: Request) -> Registry:
    submitter: Submitter = request.app.state.submitter
    return submitter.registry


SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
RegistryDep = Annotated[Registry, Depends(get_registry)]


async def get_caller(request: Request) -> Caller:
    """The authenticated key (functions/api/auth.py): 401 problem without a valid one."""
    return await authenticate(request.headers, request.app.state.submitter)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def require_read(caller: CallerDep) -> Caller:
    """The `read` scope: reading invocations (of the key's own tenant; admin reads all)."""
    require(caller, "read")
    return caller


ReadAccess = Annotated[Caller, Depends(require_read)]


@dataclass(frozen=True, slots=True)
class Admin:
    """Who is operating: `name` goes into the history of records an operator changes."""

    name: str


async def require_admin(caller: CallerDep) -> Admin:
    """The `admin` scope every operator route (dead letters) depends on: 401 without a valid
    key, 403 without the scope. The name is the key's id (`api` with SPILLWAY_AUTH=off)."""
    require(caller, "admin")
    return Admin(name=caller.name)


AdminAccess = Annotated[Admin, Depends(require_admin)]


class _SubmitterScripts:
    """The dead-letter store's ScriptRunner: the API's Redis, under its deadline, so a Redis
    that does not answer is the usual 503 problem (RedisUnavailable)."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter

    async def run(self, script: Lua, args: Sequence[str | int | float]) -> Any:
        return await self.submitter.run_lua(script.source, args)


def dead_letter_store(submitter: Submitter, actor: str = "api") -> DeadLetters:
    """The dead-letter store on the submitter's Redis (also read by /metrics, without admin)."""
    return DeadLetters(_SubmitterScripts(submitter), submitter.settings.KEY_PREFIX, actor=actor)


async def get_dead_letters(request: Request, admin: AdminAccess) -> DeadLetters:
    return dead_letter_store(request.app.state.submitter, admin.name)


DeadLettersDep = Annotated[DeadLetters, Depends(get_dead_letters)]
