"""Cancelling an invocation that has not started (`DELETE /v1/invocations/{id}`).

One script (lua/cancel.lua, after the worker's _lib.lua) checks the status and writes
`cancelled` atomically, so it races cleanly with a worker's fetch (functions/worker/lua/
fetch.lua): either the cancel comes first and the worker drops the message unrun when it
reaches it, or the fetch comes first, the record says `running`, and the cancel is refused. A
running invocation is not interrupted unless its function opted in (`interruptible=True`):
then it is asked to stop (functions/worker/interrupt.py) and records `cancelled` when it does.
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


async def cancel(
    submitter: Submitter, invocation_id: str, function: str | None, who: str = "api"
) -> str:
    """`cancelled`, `cancelling` (a running interruptible one, asked to stop), or the status
    that prevents it (`running`, `succeeded`, `failed`, `cancelled`), or `missing`."""
    settings = submitter.settings
    spec = submitter.registry.get(function or "")
    interruptible = "1" if spec is not None and spec.interruptible else "0"
    (outcome,) = await submitter.run_lua(
        _source(),
        [
            settings.KEY_PREFIX,
            invocation_id,
            f"{time.time():.6f}",
            settings.RESULT_TTL,
            who,
            interruptible,
        ],
    )
    return outcome.decode() if isinstance(outcome, bytes) else str(outcome)
