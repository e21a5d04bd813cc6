"""Fuzzing the authenticated API through real uvicorn: schemathesis generates requests for
every operation of the OpenAPI document (valid and invalid, with a key that has every scope),
and hypothesis generates Authorization headers. Whatever comes, the answer is a 4xx problem or
a success, never a 5xx."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.apikeys.model import ApiKey, new_secret
from functions.apikeys.store import KeyStore
from tests.support.processes import Proc, start_api

pytestmark = pytest.mark.e2e


def assert_problem_or_success(response: Any) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    if status >= 400:
        kind = response.headers["content-type"]  # schemathesis: a list per header
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind == "application/problem+json", response.text


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    text: str


def raw_request(base: str, method: str, path: str, authorization: bytes) -> RawResponse:
    """One request over a plain socket: any header bytes go out as they are (an HTTP client
    refuses to send some of them), so the server's own parser meets them."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n"
    ).encode()
    request += b"Authorization: " + authorization + b"\r\n\r\n{}"
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, field = line.partition(":")
        headers[name.strip().lower()] = field.strip()
    return RawResponse(int(lines[0].split()[1]), headers, body.decode(errors="replace"))


@pytest.fixture(scope="module")
def fuzzed(redis_url: str) -> Iterator[tuple[Proc, dict[str, str]]]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    store = KeyStore(client, "")
    every = ApiKey(id="", tenant="fuzz", sha256="", scopes=("invoke", "read", "admin"),
                   rate=0, max_backlog=0)  # fmt: skip
    revoked = store.revoke(store.create(every)[0].id)
    tokens = {
        "every": store.create(every)[1],
        "expired": store.create(ApiKey(id="", tenant="fuzz", sha256="", expires=1.0))[1],
        "revoked_id": revoked.id,
    }
    # No worker: nothing runs; a short ?wait so generated waits do not hold the run up.
    api = start_api(redis_url, SPILLWAY_AUTH="required", SPILLWAY_MAX_WAIT="0.2")
    yield api, tokens
    api.stop()
    client.close()


def test_every_operation_answers_a_problem_or_success(
    fuzzed: tuple[Proc, dict[str, str]],
) -> None:
    """Each operation's generated cases (schemathesis's pytest loader does not run under this
    pytest, so the operations' strategies are drawn here with hypothesis)."""
    api, tokens = fuzzed
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations: list[Any] = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 10
    key = {"Authorization": f"Bearer {tokens['every']}"}
    calls: list[str] = []
    for operation in operations:

        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            calls.append(case.path)
            response = case.call(base_url=api.url, headers=key, timeout=10)
            assert_problem_or_success(response)
            anonymous = case.call(base_url=api.url, timeout=10)
            assert_problem_or_success(anonymous)
            if case.path.startswith("/v1/"):
                assert anonymous.status_code == 401, (case.path, anonymous.text)

        run()
    # Every operation was exercised, most of them several times.
    assert {op.path for op in operations} == set(calls) and len(calls) >= 5 * len(operations)


_HEADER_BYTES = st.binary(min_size=0, max_size=300).filter(
    lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        _HEADER_BYTES,
        _HEADER_BYTES.map(lambda b: b"Bearer " + b),
        _HEADER_BYTES.map(lambda b: b"Bearer spw_" + b),
        st.text(max_size=80).map(lambda t: ("Bearer spw_" + t).encode("utf-8", "replace")),
        st.sampled_from([b"Bearer", b"Bearer ", b"bearer", b" ", b"Basic Zm9vOmJhcg=="]),
    ),
    path=st.sampled_from(
        ["/v1/functions/echo/invocations", "/v1/invocations/x", "/v1/dead-letters"]
    ),
)
def test_authorization_headers_are_401_problems(
    fuzzed: tuple[Proc, dict[str, str]], value: bytes, path: str
) -> None:
    api, _ = fuzzed
    value = value.strip(b" \t")  # h11 strips a value's surrounding whitespace itself
    method = "POST" if path.endswith("invocations") else "GET"
    response = raw_request(api.url, method, path, value)
    if all(b == 0x09 or 0x20 <= b <= 0x7E or b >= 0x80 for b in value):
        assert response.status_code == 401, (value, response.text)
        assert_problem_or_success(response)
    else:
        # Bytes no field value may hold (RFC 9110 5.5): uvicorn's HTTP parser refuses the
        # request with a plain 400 before the app sees it; still never a 5xx.
        assert response.status_code == 400, (value, response.text)


@pytest.mark.parametrize(
    "which",
    ["huge", "revoked", "expired", "wrong_secret", "unknown_id", "non_ascii", "wrong_scheme"],
)
def test_named_bad_keys_are_401_problems(fuzzed: tuple[Proc, dict[str, str]], which: str) -> None:
    api, tokens = fuzzed
    good = tokens["every"]
    header = {
        "huge": b"Bearer " + b"spw_" + b"a" * 7000,  # under uvicorn's header limit
        "revoked": f"Bearer spw_{tokens['revoked_id']}_{new_secret()}".encode(),
        "expired": f"Bearer {tokens['expired']}".encode(),
        "wrong_secret": f"Bearer {good[:21]}{new_secret()}".encode(),
        "unknown_id": f"Bearer spw_{'e' * 16}_{new_secret()}".encode(),
        "non_ascii": "Bearer spw_ünïcødé_ключ".encode(),
        "wrong_scheme": f"Basic {good}".encode(),
    }[which]
    response = httpx.post(
        f"{api.url}/v1/functions/echo/invocations",
        json={},
        headers=[(b"authorization", header)],
        timeout=10,
    )
    assert response.status_code == 401, response.text
    assert_problem_or_success(response)
    assert response.headers["www-authenticate"].startswith("Bearer")
