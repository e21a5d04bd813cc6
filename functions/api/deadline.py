"""A deadline for request bodies: a client that sends its body slowly (slowloris) gets a 408.

uvicorn bounds the time between requests on a kept-alive connection (`timeout_keep_alive`),
not the time a request's body takes to arrive, and neither h11 nor httptools has such a timer
(uvicorn/protocols/http/h11_impl.py and httptools_impl.py: `timeout_keep_alive` is armed only
while idle). So, as BodyLimitMiddleware does for size (functions/api/limits.py), this wraps
`receive`: every read of the body waits at most until SPILLWAY_BODY_TIMEOUT seconds after the
request started, then raises a 408 problem, rendered by the exception handlers, with
`Connection: close` so the connection is given up. Once the body is complete, reads (a
disconnect watch) are left alone: a `?wait=` may hold a request much longer.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api.problems import Problem


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    def _timeout(self, scope: Scope) -> float:
        # The running app's settings (tests swap them with the submitter), else the default.
        submitter = getattr(getattr(scope.get("app"), "state", None), "submitter", None)
        settings = getattr(submitter, "settings", None)
        return float(getattr(settings, "BODY_TIMEOUT", self.timeout))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timeout = self._timeout(scope)
        loop = asyncio.get_running_loop()
        # One timer per request, not an asyncio.timeout per read (that cost ~25 us a read,
        # profiled): when it fires during a read, it cancels the reading task, and the read
        # turns the cancellation into the 408.
        reading: asyncio.Task[object] | None = None
        expired = complete = False

        def expire() -> None:
            nonlocal expired
            expired = True
            if reading is not None:
                reading.cancel()

        def late() -> Problem:
            return Problem(
                "request-timeout",
                f"the request body did not arrive within {timeout:g} s",
                headers={"Connection": "close"},
            )

        timer = loop.call_at(loop.time() + timeout, expire)

        async def timed_receive() -> Message:
            nonlocal reading, complete
            if complete:
                return await receive()
            if expired:
                raise late()
            reading = asyncio.current_task()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if expired and reading is not None and reading.uncancel() == 0:
                    raise late() from None
                raise
            finally:
                reading = None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
                timer.cancel()
            return message

        try:
            await self.app(scope, timed_receive, send)
        finally:
            timer.cancel()
