from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.errors import ConfigError
from functions.settings import Settings, get_settings, redact_url


def test_environment_names_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:pw@redis:6379/2")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("SPILLWAY_QUEUES", "a, b,,c")
    monkeypatch.setenv("SPILLWAY_FUNCTION_MODULES", "pkg.one,pkg.two")
    monkeypatch.setenv("SPILLWAY_LEASE_TTL", "12.5")
    settings = Settings()
    assert settings.REDIS_URL == "redis://:pw@redis:6379/2"
    assert settings.PORT == 9000
    assert settings.QUEUES == ["a", "b", "c"]
    assert settings.FUNCTION_MODULES == ["pkg.one", "pkg.two"]
    assert settings.LEASE_TTL == 12.5


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.PORT == 8080
    assert settings.FUNCTION_MODULES == ["functions.builtins"]
    assert settings.QUEUES == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "http://x"),
        ("SPILLWAY_LEASE_TTL", "1"),
        ("PORT", "abc"),
        ("SPILLWAY_HEARTBEAT_MAX_AGE", "1"),
        ("SPILLWAY_DURABLE_REPLICAS", "-1"),
        ("SPILLWAY_MEMORY_ADMISSION", "1.5"),
        ("SPILLWAY_CALLBACK_ALLOW_NETWORKS", "10.0.0.0/8,nonsense"),
        ("K_SINK", "broker.default.svc"),
        ("SPILLWAY_SENDER_LEASE_TTL", "10"),  # not above SPILLWAY_CALLBACK_TIMEOUT (15)
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:s3cret@h/1", "rediss://user:***@h/1"),
        ("redis://h:6379", "redis://h:6379"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_queue_routes_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPILLWAY_QUEUE_ROUTES", "sleep=long, cpu = cpu-heavy")
    assert Settings().QUEUE_ROUTES == {"sleep": "long", "cpu": "cpu-heavy"}
    monkeypatch.setenv("SPILLWAY_QUEUE_ROUTES", "sleep")
    with pytest.raises(ValidationError, match="function=queue"):
        Settings()


def test_a_durable_wait_must_end_before_the_redis_deadline() -> None:
    """WAIT may answer up to Redis's 100 ms tick late: it must still fit the API's deadline."""
    Settings(DURABLE_TIMEOUT=0.4)  # no durability asked: no constraint
    Settings(DURABLE_REPLICAS=1, DURABLE_TIMEOUT=0.35)
    with pytest.raises(ValidationError, match="0.15 s below"):
        Settings(DURABLE_REPLICAS=1, DURABLE_TIMEOUT=0.4)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SPILLWAY_LEASE_TTL", "x", "invalid setting SPILLWAY_LEASE_TTL: "),
        ("REDIS_URL", "http://x", "invalid setting REDIS_URL: Value error, REDIS_URL must"),
        ("SPILLWAY_HEARTBEAT_MAX_AGE", "1", "invalid settings: Value error, SPILLWAY_HEART"),
        (
            "SPILLWAY_CALLBACK_ALLOW_NETWORKS",
            "nonsense",
            "invalid setting SPILLWAY_CALLBACK_ALLOW_NETWORKS: Value error, expected CIDRs",
        ),
    ],
)
def test_get_settings_names_the_variable_in_a_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError) as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(refused.value).startswith(message)
