"""`HotRoute`: a plain Starlette route for the routes that carry the traffic (the submits, the
CloudEvents ingress), matched before FastAPI's routers, whose per-request machinery was most of
the submit path's own time (docs/benchmarks.md, "Where the time goes")."""

from __future__ import annotations

from starlette.routing import Match, Route
from starlette.types import Scope


class HotRoute(Route):
    """A Starlette route that records itself in the scope, as FastAPI's routes do.

    The HTTP metrics label requests by `scope["route"].path`; FastAPI's router sets it for its own
    routes only.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope
