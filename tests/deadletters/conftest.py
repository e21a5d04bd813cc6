"""The store's tests share the dead-letter fixtures (tests/support/dead_letters.py)."""

from __future__ import annotations

import pytest

from tests.support.dead_letters import dl_inflight, fail, junk, store

__all__ = ["dl_inflight", "fail", "junk", "store"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
