"""Request body limits, enforced before the body reaches a handler.

Starlette and FastAPI have no body-size cap (fastapi/fastapi#1181, Kludex/starlette#890), so this
pure ASGI middleware rejects a declared Content-Length over the limit before reading anything and
counts the bytes of chunked bodies as they stream in, raising a 413 problem as soon as the limit is
crossed (the exception handlers turn it into the response).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api.problems import Problem, problem_response


def _too_large(max_bytes: int) -> str:
    return f"request body exceeds {max_bytes} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    response = problem_response(
                        413,
                        "body-too-large",
                        _too_large(self.max_bytes),
                        instance=scope.get("path"),
                        headers={"Connection": "close"},
                    )
                    await response(scope, receive, send)
                    return
                break
        seen = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise Problem(
                        "body-too-large", _too_large(limit), headers={"Connection": "close"}
                    )
            return message

        await self.app(scope, counting_receive, send)
