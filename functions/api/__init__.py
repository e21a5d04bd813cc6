"""The HTTP API (FastAPI)."""

from functions.api import fastapi_compat

# Before any route module declares a route.
fastapi_compat.install()
