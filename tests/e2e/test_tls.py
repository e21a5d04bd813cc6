"""The TLS switch (docs/deploy.md, "TLS to Redis"): `rediss://` with the same URL for the API and
the workers, against a TLS-only redis-server with the ACL users, certificates from a private CA
that the processes trust through SSL_CERT_FILE."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from functions import acl
from functions.localredis import find_redis_server, free_port
from tests.support.processes import Proc

pytestmark = pytest.mark.e2e


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(directory: Path) -> None:
    """A CA and a server certificate for 127.0.0.1, as cert-manager would issue them."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "1", "-subj", "/CN=spillway-test-ca", cwd=directory)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
             "-subj", "/CN=spillway-redis", cwd=directory)  # fmt: skip
    (directory / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tls.crt", "-days", "1", "-extfile", "ext.cnf",
             cwd=directory)  # fmt: skip


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], Path]]:
    """A redis-server listening on TLS only, with the generated users: (port, passwords, CA)."""
    binary = find_redis_server()
    if binary is None or shutil.which("openssl") is None:
        pytest.skip("needs redis-server and openssl")
    _certificates(tmp_path)
    passwords = {name: secrets.token_hex(16) for name in acl.names()}
    major, minor = (int(p) for p in binary.version.split(".")[:2])
    layout = acl.Layout(redis_version=(major, minor))
    hashes = {name: [acl.password_hash(pw)] for name, pw in passwords.items()}
    (tmp_path / "users.conf").write_text("\n".join(acl.acl_lines(layout, hashes)) + "\n")
    port = free_port()
    # The settings docs/deploy.md gives for the platform Redis.
    conf = (
        f"include {tmp_path / 'users.conf'}\nport 0\ntls-port {port}\nbind 127.0.0.1\n"
        f"tls-cert-file {tmp_path / 'tls.crt'}\ntls-key-file {tmp_path / 'tls.key'}\n"
        f'tls-ca-cert-file {tmp_path / "ca.crt"}\ntls-auth-clients no\nsave ""\n'
        f"dir {tmp_path}\n"
    )
    (tmp_path / "redis.conf").write_text(conf)
    log = tmp_path / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary.path, str(tmp_path / "redis.conf")], stdout=out, stderr=subprocess.STDOUT
        )
    admin = redis.Redis(
        port=port, password=passwords["default"], ssl=True, ssl_ca_certs=str(tmp_path / "ca.crt")
    )
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            pytest.skip(f"this redis-server has no TLS: {log.read_text()[-300:]}")
        try:
            admin.ping()
            break
        except (redis.ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield port, passwords, tmp_path / "ca.crt"
    admin.close()
    process.terminate()
    process.wait(10)


def test_api_and_worker_run_over_tls_with_their_users(
    tls_redis: tuple[int, dict[str, str], Path],
    api_factory: Callable[..., Proc],
    worker_factory: Callable[..., Proc],
) -> None:
    """Only the scheme changes: `rediss://`, and the CA in the process's trust store. The worker
    verifies the certificate as the API does (functions/worker/app.py, `tls`): Celery's result
    backend would otherwise refuse a rediss:// URL without `ssl_cert_reqs` at start."""
    port, passwords, ca = tls_redis
    trust = {"SSL_CERT_FILE": str(ca)}

    def url(user: str) -> str:
        return f"rediss://{user}:{passwords[user]}@127.0.0.1:{port}/0"

    api = api_factory(url("api"), **trust)
    worker_factory(url("worker"), **trust)
    response = httpx.post(
        f"{api.url}/v1/functions/process-data/invocations?wait=20",
        json={"user_id": 1, "data": "tls"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"status": "success", "result": "Processed tls for user 1"}
    assert httpx.get(f"{api.url}/readyz").json()["status"] == "ok"


def test_an_untrusted_certificate_is_refused(
    tls_redis: tuple[int, dict[str, str], Path], api_factory: Callable[..., Proc]
) -> None:
    """Without the CA the API does not trust the server, so it never becomes ready: the
    certificate is verified, not merely used for encryption."""
    port, passwords, _ = tls_redis
    api = api_factory(f"rediss://api:{passwords['api']}@127.0.0.1:{port}/0")
    time.sleep(2)
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 503, ready.text
    assert "certificate" in ready.text.lower() or "ssl" in ready.text.lower(), ready.text
