"""The SSRF guard's rules: every class of address a callback must not reach, and the allow list."""

from __future__ import annotations

import pytest

from functions.targets import Guard, literal_address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "metadata"),  # AWS, GCP, Azure IMDS
        ("169.254.170.2", "metadata"),  # ECS task metadata
        ("fd00:ec2::254", "metadata"),  # AWS IMDS over IPv6
        ("100.100.100.200", "metadata"),  # Alibaba
        ("168.63.129.16", "metadata"),  # Azure WireServer: public, named on purpose
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("192.0.2.1", "reserved"),  # TEST-NET-1 (documentation)
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_addresses_that_are_not_public_are_refused_with_their_class(address: str, why: str) -> None:
    refusal = Guard().refusal(address)
    assert refusal is not None, address
    assert why in refusal.why
    assert "SPILLWAY_CALLBACK_ALLOW_NETWORKS" in str(refusal)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert Guard().refusal(address) is None


def test_allowed_networks_pass_and_only_them() -> None:
    guard = Guard(["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"])
    assert guard.refusal("127.0.0.1") is None
    assert guard.refusal("10.1.2.3") is None
    assert guard.refusal("fd00:ec2::254") is None  # an operator may allow even this, on purpose
    assert guard.refusal("::ffff:127.0.0.1") is None  # the IPv4 address it leads to is allowed
    assert guard.refusal("10.2.0.1") is not None
    assert guard.refusal("169.254.169.254") is not None
    assert guard.refusal("::1") is not None


def test_literal_addresses_are_told_from_names() -> None:
    assert str(literal_address("[::1]")) == "::1"
    assert str(literal_address("10.0.0.1")) == "10.0.0.1"
    assert literal_address("hooks.example.com") is None
    assert literal_address("localhost") is None
