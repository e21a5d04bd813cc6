"""Request body limits, enforced before the body reaches a handler.

Starlette and FastAPI have no body-size cap (fastapi/fastapi#1181, Kludex/starlette#890), so this
pure ASGI middleware wraps `receive`: a declared Content-Length over the limit fails the first
read, before a byte of the body is taken, and chunked bodies are counted as they stream in,
failing as soon as the limit is crossed. Either way the handler's read raises a 413 problem that
the exception handlers render. The check runs at the first read rather than before routing, so
the request is answered, and counted in the HTTP metrics, under its real route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api.problems import Problem


def _too_large(max_bytes: int) -> Problem:
    # The body is left unread: the connection cannot be reused.
    return Problem(
        "body-too-large",
        f"request body exceeds {max_bytes} bytes",
        headers={"Connection": "close"},
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared_over = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared_over = value.isdigit() and int(value) > limit
                break
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            if declared_over:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)
