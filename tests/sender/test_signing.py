"""Our signatures against the Standard Webhooks reference library's, and the secrets' format."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from functions.errors import ConfigError
from functions.sender.signing import Secrets, parse_secrets, sign
from functions.settings import Settings


def secret(size: int = 32) -> str:
    return "whsec_" + base64.b64encode(os.urandom(size)).decode()


def test_each_signature_is_the_reference_librarys_for_its_secret() -> None:
    secrets = [secret(), secret(64)]
    body = b'{"id":"x","status":"succeeded"}'
    header = sign(parse_secrets(" ".join(secrets)), "inv-1", 1764500000, body)
    signatures = header.split(" ")
    when = datetime.fromtimestamp(1764500000, tz=UTC)
    for ours, key in zip(signatures, secrets, strict=True):
        assert ours == Webhook(key).sign("inv-1", when, body.decode())


@pytest.mark.parametrize("separator", [" ", ",", " , ", "\n"])
def test_secrets_split_on_spaces_and_commas_and_the_prefix_is_optional(separator: str) -> None:
    first, second = secret(), secret(24)
    keys = parse_secrets(separator.join([first, second.removeprefix("whsec_")]))
    assert keys == [base64.b64decode(first[6:]), base64.b64decode(second[6:])]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("whsec_!!!notbase64", "secret 1 is not whsec_ followed by base64"),
        (secret() + " whsec_" + base64.b64encode(b"short").decode(), "secret 2 is 5 bytes"),
        ("  ,  ", "is empty"),
    ],
)
def test_bad_secrets_are_refused_without_showing_them(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_secrets(raw)
    assert raw.strip(" ,") == "" or raw.split()[0][6:20] not in str(refused.value)


def test_no_secret_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="SPILLWAY_CALLBACK_SECRET is not set"):
        Secrets(Settings(CALLBACK_SECRET=None))


def test_every_tenant_shares_the_configured_secrets_for_now() -> None:
    raw = f"{secret()} {secret()}"
    secrets = Secrets(Settings(CALLBACK_SECRET=SecretStr(raw)))
    assert secrets.secrets_for(None) == secrets.secrets_for("acme") == parse_secrets(raw)
