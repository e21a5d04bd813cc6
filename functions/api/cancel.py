"""Cancelling an invocation that has not started (`DELETE /v1/invocations/{id}`).

One script (lua/cancel.lua, after the worker's _lib.lua) checks the status and writes
`cancelled` atomically, so it races cleanly with a worker's fetch (functions/worker/lua/
fetch.lua): either the cancel comes first and the worker drops the message unrun when it
reaches it, or the fetch comes first, the record says `running`, and the cancel is refused. A
running invocation is not interrupted (a function that could be stopped safely midway would
have to say so; no function can yet).
"""

from __future__ import annotations

import time
from functools import cache
from importlib import resources

from functions.api.submit import Submitter


@cache
def _source() -> str:
    library = resources.files("functions.worker") / "lua" / "_lib.lua"
    own = resources.files("functions.api") / "lua" / "cancel.lua"
    return library.read_text() + "\n" + own.read_text()


async def cancel(submitter: Submitter, invocation_id: str, who: str = "api") -> str:
    """`cancelled`, or the status that prevents it (`running`, `succeeded`, `failed`,
    `cancelled`), or `missing` for no record."""
    settings = submitter.settings
    (outcome,) = await submitter.run_lua(
        _source(),
        [settings.KEY_PREFIX, invocation_id, f"{time.time():.6f}", settings.RESULT_TTL, who],
    )
    return outcome.decode() if isinstance(outcome, bytes) else str(outcome)
