"""Fixtures for chaos tests: cells (private redis-server + API + workers) to kill things in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from functions.localredis import RedisServer
from tests.support.chaos import Cell
from tests.support.processes import redis_server_or_skip


def _server() -> RedisServer:
    return redis_server_or_skip("chaos tests need redis-server on PATH")


@pytest.fixture(scope="session")
def ledger_url() -> Iterator[str]:
    """The ledger's own Redis: never stopped, paused or filled by a test."""
    server = _server()
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def steady_cell(ledger_url: str) -> Iterator[Cell]:
    """One API and one worker shared by tests that leave their worker running afterwards."""
    server = _server()
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


@pytest.fixture
def cell_factory(ledger_url: str) -> Iterator[Callable[..., Cell]]:
    """Cells a test may wreck: each on its own redis-server, closed after the test."""
    made: list[tuple[Cell | None, RedisServer]] = []

    def make(workers: int = 1, **settings: str) -> Cell:
        server = _server()
        made.append((None, server))
        cell = Cell.start(server, ledger_url, workers=workers, **settings)
        made[-1] = (cell, server)
        return cell

    yield make
    for cell, server in made:
        if cell is not None:
            cell.close()
        server.close()
