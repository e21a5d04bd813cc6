"""The SSRF guard where it matters, at connect time, through a real httpx client and a real
receiving server: what a name resolves to when the connection is made is what is checked, and
the connection goes to the address that was checked."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from functions.sender.guard import GuardedTransport, TargetRefused
from functions.targets import Guard
from tests.support.receiver import Receiver, receiving

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


class Rebinding:
    """A resolver whose answers change from call to call, as a rebinding attacker's DNS does."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def client(guard: Guard, resolver: Rebinding | None = None) -> httpx.AsyncClient:
    transport = GuardedTransport(guard, resolver) if resolver else GuardedTransport(guard)
    return httpx.AsyncClient(transport=transport, timeout=5)


@pytest.mark.parametrize(
    ("resolved", "why"),
    [
        ("10.0.0.7", "private"),
        ("192.168.1.10", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.64.1.1", "CGNAT"),
        ("fe80::1", "link-local"),
        ("fd12::1", "unique-local"),
        ("::ffff:10.0.0.1", "private"),
    ],
)
async def test_a_name_resolving_to_a_refused_address_is_never_connected_to(
    resolved: str, why: str
) -> None:
    async with client(Guard(), Rebinding([resolved])) as http:
        with pytest.raises(TargetRefused, match=why):
            await http.post("http://hooks.example.com/x", content=b"{}")


async def test_the_address_checked_is_the_address_connected_to(receiver: Receiver) -> None:
    """A rebinding DNS answers 127.0.0.1 (allowed here, where the receiver listens) first and
    10.0.0.7 after: one resolution per connection, so the check cannot be raced."""
    resolver = Rebinding(["127.0.0.1"], ["10.0.0.7"])
    port = receiver.url.rsplit(":", 1)[1]
    async with client(Guard(["127.0.0.0/8"]), resolver) as http:
        response = await http.post(f"http://rebind.example:{port}/hook", content=b"{}")
    assert response.status_code == 200
    assert resolver.calls == 1
    (got,) = receiver.at("/hook")
    assert got.headers["host"] == f"rebind.example:{port}"  # the name, not the address


async def test_of_several_addresses_only_allowed_ones_are_tried(receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    resolver = Rebinding(["169.254.169.254", "127.0.0.1"])
    async with client(Guard(["127.0.0.0/8"]), resolver) as http:
        response = await http.post(f"http://mixed.example:{port}/hook", content=b"{}")
    assert response.status_code == 200


async def test_literal_addresses_are_checked_too(receiver: Receiver) -> None:
    async with client(Guard()) as http:
        with pytest.raises(TargetRefused, match="loopback"):
            await http.post(receiver.url + "/hook", content=b"{}")
    assert receiver.at("/hook") == []


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    target = receiver.answer("/moved", (307, {"Location": "http://169.254.169.254/"}))
    async with httpx.AsyncClient(transport=GuardedTransport(Guard(["127.0.0.0/8"]))) as http:
        response = await http.post(target, content=b"{}")
    assert response.status_code == 307  # handed back, not followed


async def test_proxies_from_the_environment_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would connect on the sender's behalf, unchecked; the transport never uses one."""
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    async with httpx.AsyncClient(
        transport=GuardedTransport(Guard(["127.0.0.0/8"])), timeout=5
    ) as http:
        response = await http.post(receiver.url + "/direct", content=b"{}")
    assert response.status_code == 200 and len(receiver.at("/direct")) == 1


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f.0.0.1", "127.1"])
async def test_names_and_odd_spellings_of_loopback_are_refused_once_resolved(
    receiver: Receiver, host: str
) -> None:
    """The system resolver (getaddrinfo) turns these into 127.0.0.1 or ::1; the API lets them
    through as names, and the check on the resolved address refuses them."""
    port = receiver.url.rsplit(":", 1)[1]
    async with client(Guard()) as http:
        with pytest.raises(TargetRefused, match="loopback"):
            await http.post(f"http://{host}:{port}/hook", content=b"{}")
    assert receiver.at("/hook") == []
