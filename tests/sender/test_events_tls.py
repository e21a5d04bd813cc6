"""A sink behind TLS with its own CA (Knative Eventing's TLS): the CA certificates a SinkBinding
injects as K_CA_CERTS (knative/eventing knative-v1.22.2 pkg/apis/sources/v1/
sinkbinding_lifecycle.go, SinkBinding.Do, when the sink's address has CACerts) are trusted by
the events client; without them the same sink is refused. A real HTTPS server, a certificate
made with the openssl command."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.errors import ConfigError
from functions.sender.run import clients
from functions.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings(sink: str, ca_certs: str | None = None) -> Settings:
    """As a SinkBinding sets them (the fields are read by their variables' names)."""
    env: dict[str, Any] = {"K_SINK": sink}
    if ca_certs is not None:
        env["K_CA_CERTS"] = ca_certs
    return Settings(**env)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_sink(certificate: tuple[Path, Path]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/sink"
    server.shutdown()
    server.server_close()


async def test_the_injected_ca_certificates_are_trusted_for_the_sink(
    https_sink: str, certificate: tuple[Path, Path]
) -> None:
    pem = certificate[0].read_text()
    callbacks, events = clients(settings(https_sink, pem))
    assert events is not None
    async with callbacks, events:
        assert (await events.post(https_sink, content=b"{}")).status_code == 202
    callbacks, untrusted = clients(settings(https_sink))
    assert untrusted is not None
    async with callbacks, untrusted:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusted.post(https_sink, content=b"{}")


def test_ca_certificates_that_are_not_pem_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="K_CA_CERTS"):
        clients(settings("https://sink.example/", "not a pem"))
