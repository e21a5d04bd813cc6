"""A cell that several chaos tests share (cell_factory and ledger_url: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chaos import Cell
from tests.support.processes import redis_server_or_skip


@pytest.fixture(scope="session")
def steady_cell(ledger_url: str) -> Iterator[Cell]:
    """One API and one worker shared by tests that leave their worker running afterwards."""
    server = redis_server_or_skip("chaos tests need redis-server on PATH")
    try:
        cell = Cell.start(server, ledger_url, workers=1)
    except BaseException:
        server.close()
        raise
    yield cell
    cell.close()
    server.close()


@pytest.fixture
def steady(steady_cell: Cell) -> Cell:
    """The shared cell, once whatever an earlier (maybe failed) test left in it has drained."""
    steady_cell.wait_idle(timeout=30)
    assert steady_cell.workers and all(w.alive() for w in steady_cell.workers)
    return steady_cell
