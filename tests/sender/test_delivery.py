"""What an answer means for the next attempt: backoff, Retry-After and the deadline."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import httpx
import pytest

from functions.errors import ConfigError
from functions.sender.delivery import Deliverer, Item, backoff, retry_after
from functions.sender.events import extensions
from functions.settings import Settings

SETTINGS = Settings(CALLBACK_BACKOFF=1.0, CALLBACK_BACKOFF_MAX=60.0, CALLBACK_DEADLINE=600.0)


def item(at: float, attempts: int = 0) -> Item:
    raw = json.dumps(
        {
            "kind": "callback",
            "id": "inv-1",
            "n": 1,
            "invocation": "inv",
            "url": "https://hooks.example.com/",
            "at": at,
            "attempts": attempts,
            "record": ["function", "echo", "status", "succeeded", "result", "{}"],
        }
    )
    return Item.parse(raw)


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 1), (2, 2), (3, 4), (6, 32), (9, 60)])
def test_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, ceiling: float) -> None:
    waits = [backoff(attempts, SETTINGS) for _ in range(200)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    assert len(set(waits)) > 100  # jittered, not one fixed value


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = time.time()
    assert retry_after(httpx.Headers({"retry-after": "7"}), now) == 7
    date = formatdate(now + 30, usegmt=True)
    assert 28 <= retry_after(httpx.Headers({"retry-after": date}), now) <= 31
    assert retry_after(httpx.Headers({"retry-after": "soon"}), now) == 0
    assert retry_after(httpx.Headers({}), now) == 0


def test_a_long_retry_after_is_honoured_but_never_past_the_deadline() -> None:
    deliverer = Deliverer(SETTINGS, None, httpx.AsyncClient(), None)
    now = time.time()
    fresh = item(at=now)
    settled = deliverer.retry_or_fail(fresh, 1, 429, "429", now, after=120)
    assert settled.outcome == "retry"
    assert now + 119 <= settled.due_ms / 1000 <= now + 121
    late = deliverer.retry_or_fail(fresh, 1, 429, "429", now, after=10_000)
    assert late.due_ms == int((fresh.at + 600) * 1000)  # a last attempt at the deadline
    again = json.loads(late.next_item)
    assert (again["attempts"], again["last_status"], again["id"]) == (1, 429, "inv-1")


def test_past_the_deadline_the_delivery_fails() -> None:
    deliverer = Deliverer(SETTINGS, None, httpx.AsyncClient(), None)
    now = time.time()
    settled = deliverer.retry_or_fail(item(at=now - 601, attempts=4), 5, 503, "503", now, 0)
    assert (settled.outcome, settled.error_type, settled.attempts) == (
        "failed",
        "DeadlinePassed",
        5,
    )


def test_the_signed_body_is_the_record_without_its_callback_state() -> None:
    view = item(at=time.time()).view()
    assert view["status"] == "succeeded" and view["result"] == {} and "callback" not in view


@pytest.mark.parametrize("raw", ["[1, 2]", "7", "not json", '{"record": 5}'])
def test_an_item_that_is_not_a_delivery_is_refused_as_such(raw: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        Item.parse(raw)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ('{"extensions": {"Team": "a"}}', "not a CloudEvents attribute name"),
        ('{"extensions": {"team-name": "a"}}', "not a CloudEvents attribute name"),
        ('{"extensions": {"type": "evil"}}', "set by Spillway itself"),
        ('{"extensions": ["team"]}', "must be"),
    ],
)
def test_overrides_may_add_extensions_but_not_bad_names_or_our_attributes(
    overrides: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        extensions(overrides)
    assert extensions('{"extensions": {"team": "a", "tier2": 3}}') == {"team": "a", "tier2": "3"}
