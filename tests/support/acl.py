"""A private redis-server that lets in only the ACL users functions/acl/ generates.

Each user gets a random password; `url(user)` is the REDIS_URL a component would be given, and
`admin` a client of the `default` user (everything), for set-up and inspection.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from functions import acl
from functions.localredis import RedisServer


def server_version(binary_version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in binary_version.split(".")[:3])


@dataclass
class AclRedis:
    server: RedisServer
    layout: acl.Layout
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, user: str) -> str:
        return f"redis://{user}:{self.passwords[user]}@127.0.0.1:{self.server.port}/0"

    def client(self, user: str) -> redis.Redis:
        return redis.Redis.from_url(self.url(user))

    @property
    def admin(self) -> redis.Redis:
        return self.client("default")

    def denied(self) -> list[dict[str, object]]:
        """ACL LOG entries (newest first): what some user was refused, and why."""
        return [dict(entry) for entry in self.admin.acl_log()]

    def refusals(self) -> list[tuple[object, object, object]]:
        """(user, reason, object) of each ACL LOG entry: what was refused to whom."""
        return [(e["username"], e["reason"], e["object"]) for e in self.denied()]

    def close(self) -> None:
        self.server.close()


def start(layout: acl.Layout, server: RedisServer) -> AclRedis:
    """Write users.conf for `layout`, as scripts/redis-secret does, and start `server` on a
    config that includes it (platform/redis.yaml's redis.conf does the same)."""
    passwords = {name: secrets.token_hex(16) for name in acl.names()}
    hashes = {name: [acl.password_hash(pw)] for name, pw in passwords.items()}
    conf = Path(tempfile.mkdtemp(prefix="spillway-acl-")) / "users.conf"
    conf.write_text("\n".join(acl.acl_lines(layout, hashes)) + "\n")
    server.args = (*server.args, "--include", str(conf))
    server.password = passwords["default"]
    server.start()
    return AclRedis(server, layout, passwords)
