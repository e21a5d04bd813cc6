"""`spillway dlq`: each subcommand against a real Redis, its JSON equal to the API's answer, and
its errors one line."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from functions.cli import main
from functions.settings import get_settings
from tests.worker.test_inflight import QUEUE

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(["dlq", *argv])
    return capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    return json.loads(run(capsys, *argv, "--json"))


def error(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 2) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["dlq", *argv])
    assert exited.value.code == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spillway: error: "), lines
    return lines[0]


@pytest.fixture
async def api(redis_url: str, redis_client: redis.Redis) -> Any:
    """The in-process app on the same Redis, to compare answers with."""
    from functions.api.main import app, registry
    from functions.api.main import redis_client as resp_client
    from functions.api.submit import Submitter
    from functions.settings import Settings

    async with app.router.lifespan_context(app):
        settings = Settings(REDIS_URL=redis_url, AUTH="off")
        client = resp_client(settings.REDIS_URL, settings.REDIS_TIMEOUT)
        app.state.submitter = Submitter(client, settings, registry)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spillway") as http:
            yield http
        await client.aclose()


async def test_list_and_show_answer_what_the_api_answers(
    capsys: pytest.CaptureFixture[str],
    api: httpx.AsyncClient,
    fail: Callable[..., str],
    junk: Callable[[str], str],
) -> None:
    failed = [fail() for _ in range(3)]
    junk("junk")

    async def cli(*argv: str) -> Any:  # the CLI runs its own event loop: not in this one
        return await asyncio.to_thread(run_json, capsys, *argv)

    for query in ({}, {"reason": "retries_exhausted"}, {"queue": QUEUE, "limit": "2"}):
        argv = [f"--{k}={v}" for k, v in query.items()]
        answer = (await api.get("/v1/dead-letters", params=query)).json()
        assert await cli("list", *argv) == answer
    page = await cli("list", "--limit", "2")
    rest = await cli("list", "--cursor", page["next_cursor"])
    assert [i["id"] for i in page["items"] + rest["items"]][1:] == failed[::-1]
    answer = (await api.get(f"/v1/dead-letters/{failed[0]}")).json()
    assert await cli("show", failed[0]) == answer


def test_list_and_show_print_for_people(
    capsys: pytest.CaptureFixture[str], fail: Callable[..., str], junk: Callable[[str], str]
) -> None:
    failed = [fail() for _ in range(3)]
    junk("junk")
    table = run(capsys, "list").splitlines()
    assert table[0].split()[:4] == ["ID", "QUEUE", "FUNCTION", "REASON"]
    assert len(table) == 5 and "ValueError: bad input" in table[1 + 1]
    shown = run(capsys, "show", failed[0])
    assert f"invocation_id:  {failed[0]}" in shown and "message:" in shown


def test_replay_one_then_every_matching_one(
    capsys: pytest.CaptureFixture[str],
    fail: Callable[..., str],
    junk: Callable[[str], str],
    redis_client: redis.Redis,
) -> None:
    one, *others = [fail() for _ in range(3)]
    junk("junk")
    assert run_json(capsys, "replay", one) == {
        "id": one,
        "status": "queued",
        "status_url": f"/v1/invocations/{one}",
    }
    history = json.loads(redis_client.hget(f"spillway:inv:{one}", "history") or "[]")
    assert history[-1]["detail"]["by"] == "cli"
    bulk = run_json(capsys, "replay", "--all")
    assert sorted(bulk["invocation_ids"]) == sorted(others)
    assert bulk["skipped"] == {"no_invocation": 1} and bulk["more"] is False
    assert redis_client.llen(QUEUE) == 3


def test_replay_with_a_corrected_payload(
    capsys: pytest.CaptureFixture[str],
    fail: Callable[..., str],
    redis_client: redis.Redis,
    tmp_path: Any,
) -> None:
    invocation_id = fail()
    path = tmp_path / "payload.json"
    path.write_text('{"fixed": true}')
    assert "queued" in run(capsys, "replay", invocation_id, "--payload", f"@{path}")
    history = json.loads(redis_client.hget(f"spillway:inv:{invocation_id}", "history") or "[]")
    assert history[-1]["detail"]["payload"] == "corrected"


def test_purge_asks_or_needs_yes(
    capsys: pytest.CaptureFixture[str],
    fail: Callable[..., str],
    junk: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
) -> None:
    kept = fail()
    gone = fail()
    junk("junk")
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal
    assert "--yes" in error(capsys, "purge", "--reason", "malformed")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert "nothing deleted" in error(capsys, "purge", "--reason", "malformed", status=1)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert "deleted 1" in run(capsys, "purge", "--reason", "malformed")
    assert run_json(capsys, "purge", gone) == {"deleted": 1, "more": False}
    assert run_json(capsys, "purge", "--queue", QUEUE, "--yes") == {"deleted": 1, "more": False}
    assert redis_client.hlen(f"spillway:dlq:{QUEUE}") == 0 and kept


@pytest.mark.parametrize(
    ("argv", "message", "status"),
    [
        (["show", "nope"], "no dead letter 'nope'", 2),
        (["replay", "nope"], "no dead letter 'nope'", 2),
        (["purge", "nope"], "no dead letter 'nope'", 2),
        (["list", "--cursor", "garbage"], "the cursor is not one this store handed out", 2),
        (["list", "--limit", "500"], "--limit is at most 200", 2),
        (["list", "--reason", "sad"], "invalid choice: 'sad'", 2),
        (["replay"], "name a dead letter's id, or --queue", 2),
        (["replay", "x", "--queue", "q", "--all"], "not both", 2),
        (["replay", "--all", "--queue", "q"], "--all takes every dead letter", 2),
        (["replay", "--all", "--payload", "{}"], "--payload corrects one dead letter", 2),
        (["replay", "x", "--payload", "{oops"], "not JSON", 2),
        (["purge"], "name a dead letter's id, or --queue", 2),
        (["purge", "--all", "--limit", "0"], "must be a positive whole number", 2),
    ],
)
def test_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str],
    redis_client: redis.Redis,
    argv: list[str],
    message: str,
    status: int,
) -> None:
    assert message in error(capsys, *argv, status=status)


def test_what_cannot_be_replayed_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], junk: Callable[[str], str]
) -> None:
    junk_id = junk("junk")
    assert "names no invocation" in error(capsys, "replay", junk_id, status=1)


def test_redis_down_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    get_settings.cache_clear()
    line = error(capsys, "list", status=1)
    assert "cannot reach Redis" in line and "hunter2" not in line


def test_the_reason_choices_are_the_stores() -> None:
    from functions.deadletters import cli, store

    assert cli.REASONS == store.REASONS
