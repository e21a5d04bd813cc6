"""Which addresses a callback may reach: the guard against turning Spillway into a proxy (SSRF).

A callback URL comes from whoever submits, but the sender POSTs from inside the cluster: without
a guard, `X-Callback-Url: http://10.0.0.7:6379/` or `http://169.254.169.254/latest/meta-data/`
would let a producer reach what only the cluster can. Every address a delivery connects to is
checked here: the API refuses a literal address at submit (a clear 422 early), and the sender
checks the address it actually connects to (functions/sender/guard.py), so a name that resolves
to a public address when checked and a private one when used (DNS rebinding) gains nothing.

Refused unless an operator allows the network (SPILLWAY_CALLBACK_ALLOW_NETWORKS): every address
that is not globally routable (Python's `ipaddress.is_global`, which follows the IANA special-
purpose registries), multicast, and the metadata endpoints of the big clouds. IPv6 addresses that
embed an IPv4 one (mapped, NAT64, 6to4) are judged by the IPv4 address they lead to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named classes, checked in this order, so a refusal says which rule it hit. Metadata first: it
# is what an attacker is after, and 169.254.169.254 is link-local as well.
_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "a cloud metadata endpoint",
        (
            "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
            "169.254.170.2/32",  # AWS ECS task metadata
            "fd00:ec2::254/128",  # AWS IMDS over IPv6
            "100.100.100.200/32",  # Alibaba Cloud
            "168.63.129.16/32",  # Azure WireServer: a public address, so named here
        ),
    ),
    ("a loopback address", ("127.0.0.0/8", "::1/128")),
    ("an unspecified address", ("0.0.0.0/8", "::/128")),
    ("a private address", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("a link-local address", ("169.254.0.0/16", "fe80::/10")),
    ("a unique-local address", ("fc00::/7",)),
    ("a shared (CGNAT) address", ("100.64.0.0/10",)),
    ("a multicast address", ("224.0.0.0/4", "ff00::/8")),
)
_NETWORKS: tuple[tuple[str, tuple[Network, ...]], ...] = tuple(
    (name, tuple(ipaddress.ip_network(n) for n in nets)) for name, nets in _CLASSES
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an address may not be reached: `address` is what was checked, `why` the class."""

    address: str
    why: str

    def __str__(self) -> str:
        return (
            f"{self.address} is {self.why}; callbacks may not reach it unless "
            "SPILLWAY_CALLBACK_ALLOW_NETWORKS allows it"
        )


class Guard:
    """The refusal rules plus the networks an operator allows."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allow
        )

    def refusal(self, address: str | Address) -> Refusal | None:
        """None if a callback may connect to `address`, else why not."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if self._allowed(ip):
            return None
        target = _embedded(ip)
        if target is not ip and self._allowed(target):
            return None
        for candidate in (ip, target) if target is not ip else (ip,):
            for why, networks in _NETWORKS:
                if any(candidate in net for net in networks if net.version == candidate.version):
                    return Refusal(str(ip), why if candidate is ip else f"{why} ({target})")
        if not target.is_global:
            return Refusal(str(ip), "a reserved, non-public address")
        return None

    def _allowed(self, ip: Address) -> bool:
        return any(ip in net for net in self.allow if net.version == ip.version)


def _embedded(ip: Address) -> Address:
    """The IPv4 address an IPv6 one leads to (IPv4-mapped, NAT64 well-known prefix, 6to4),
    else the address itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip


def literal_address(host: str) -> Address | None:
    """The address a URL's host names literally (brackets stripped), else None (a name)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
