"""Service settings: production refuses unsafe defaults; environment variables with a prefix and
``__`` nesting are read (the shared base and the five services' own Settings classes)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from cme_tracker.config import Settings as CmeSettings
from enforcement.config import Settings as EnforcementSettings
from exclusions.config import Settings as ExclusionsSettings
from inclusion_kit.settings import LOCAL_JWT_SECRET, ServiceSettings
from referral_api.config import Settings as ReferralSettings
from reporting.config import Settings as ReportingSettings

POSTGRES = "postgresql+asyncpg://inclusion:pw@db.internal:5432/referrals"
GOOD_SECRET = "s" * 32
JWKS = "https://idp.example.gov.uk/.well-known/jwks.json"


class SvcSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESTSVC_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "test-svc"


def _production(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "mode": "production",
        "database_url": POSTGRES,
        "bus": "kafka",
        "auth": {"jwt_secret": GOOD_SECRET},
    }
    values.update(overrides)
    return values


def _refusal(values: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        ServiceSettings(**values)
    return str(caught.value)


# -- production refuses unsafe settings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"auth": {}}, "set AUTH__JWKS_URL (or a non-default AUTH__JWT_SECRET)"),
        (
            {"auth": {"jwt_secret": LOCAL_JWT_SECRET}},
            "set AUTH__JWKS_URL (or a non-default AUTH__JWT_SECRET)",
        ),
        ({"auth": {"jwt_secret": None}}, "set AUTH__JWKS_URL (or a non-default AUTH__JWT_SECRET)"),
        ({"auth": {"jwt_secret": ""}}, "set AUTH__JWKS_URL (or a non-default AUTH__JWT_SECRET)"),
        ({"auth": {"jwt_secret": "short"}}, "AUTH__JWT_SECRET must be at least 32 characters"),
        ({"auth": {"jwt_secret": "x" * 31}}, "AUTH__JWT_SECRET must be at least 32 characters"),
        (
            {"auth": {"jwks_url": JWKS, "jwt_secret": LOCAL_JWT_SECRET}},
            "the local development secret must not be set in production",
        ),
        (
            {"database_url": "sqlite+aiosqlite:///./var/service.db"},
            "production runs on PostgreSQL, not SQLite",
        ),
        ({"database_url": "sqlite+aiosqlite://"}, "production runs on PostgreSQL, not SQLite"),
        ({"database_url": "sqlite:///x.db"}, "production runs on PostgreSQL, not SQLite"),
        ({"bus": "embedded"}, "production runs on Kafka, not the embedded bus"),
    ],
)
def test_production_refuses(overrides: dict[str, Any], expected: str) -> None:
    message = _refusal(_production(**overrides))
    assert expected in message
    assert "service refuses to start in production mode" in message
    # only the one problem is reported
    assert message.count("; ") == 0


def test_production_with_all_defaults_lists_every_problem() -> None:
    message = _refusal({"mode": "production"})
    assert "auth: set AUTH__JWKS_URL" in message
    assert "database_url: production runs on PostgreSQL" in message
    assert "bus: production runs on Kafka" in message


@pytest.mark.parametrize(
    ("overrides", "secret"),
    [
        ({"auth": {"jwt_secret": "hunter2-short-secret"}}, "hunter2"),
        ({"database_url": "sqlite:///x.db", "kafka": {"sasl_password": "kafka-pw-9f8e"}}, "kafka-pw-9f8e"),
        ({"database_url": "postgresql+asyncpg://inclusion:Db-Pw-7c6b@db/x", "bus": "embedded"}, "Db-Pw-7c6b"),
    ],
)
def test_refusal_never_prints_a_secret(overrides: dict[str, Any], secret: str) -> None:
    # The refusal is printed when a service fails to start: it must not carry the input values.
    message = _refusal(_production(**overrides))
    assert "refuses to start in production mode" in message
    assert secret not in message


def test_refusal_from_the_environment_never_prints_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_MODE", "production")
    monkeypatch.setenv("TESTSVC_DATABASE_URL", "postgresql+asyncpg://inclusion:Db-Pw-7c6b@db/x")
    monkeypatch.setenv("TESTSVC_AUTH__JWT_SECRET", "hunter2-short-secret")
    with pytest.raises(ValidationError) as caught:
        SvcSettings()
    message = str(caught.value)
    assert "AUTH__JWT_SECRET must be at least 32 characters" in message
    assert "hunter2" not in message
    assert "Db-Pw-7c6b" not in message


@pytest.mark.parametrize(
    "auth",
    [
        {"jwt_secret": GOOD_SECRET},
        {"jwt_secret": "k" * 64},
        {"jwks_url": JWKS, "jwt_secret": None},
        {"jwks_url": JWKS, "jwt_secret": GOOD_SECRET},
        # A JWKS URL alone: the verifier ignores the secret when a JWKS URL is set, and
        # docker-compose.yml documents "replace <P>AUTH__JWT_SECRET with <P>AUTH__JWKS_URL".
        {"jwks_url": JWKS},
    ],
)
def test_production_accepts_jwks_or_a_long_secret_with_postgres_and_kafka(auth: dict[str, Any]) -> None:
    settings = ServiceSettings(**_production(auth=auth))
    assert settings.mode == "production"
    assert settings.bus == "kafka"
    assert settings.database_url == POSTGRES


def test_production_accepts_jwks_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_MODE", "production")
    monkeypatch.setenv("TESTSVC_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("TESTSVC_BUS", "kafka")
    monkeypatch.setenv("TESTSVC_AUTH__JWKS_URL", JWKS)
    settings = SvcSettings()
    assert settings.auth.jwks_url == JWKS


@pytest.mark.parametrize("mode", ["local", "test"])
def test_local_and_test_modes_accept_the_defaults(mode: str) -> None:
    settings = ServiceSettings(mode=mode)
    assert settings.mode == mode
    assert settings.database_url.startswith("sqlite")
    assert settings.bus == "embedded"
    assert settings.auth.jwt_secret is not None
    assert settings.auth.jwt_secret.get_secret_value() == LOCAL_JWT_SECRET
    assert settings.auth.jwks_url is None


@pytest.mark.parametrize("mode", ["local", "test"])
def test_local_and_test_modes_accept_a_short_secret(mode: str) -> None:
    settings = ServiceSettings(mode=mode, auth={"jwt_secret": "short"})
    assert settings.auth.jwt_secret == SecretStr("short")


@pytest.mark.parametrize("mode", ["staging", "prod", "PRODUCTION", ""])
def test_unknown_modes_are_refused(mode: str) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(mode=mode)


def test_defaults() -> None:
    settings = ServiceSettings()
    assert settings.mode == "local"
    assert settings.la_code == "886"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.http.max_body_bytes == 1_048_576
    assert settings.http.max_bulk_body_bytes == 64 * 1_048_576
    assert settings.check_schema_on_start is True


@pytest.mark.parametrize("code", ["88", "8866", "ABC", "88a"])
def test_la_code_is_three_digits(code: str) -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(la_code=code)


def test_the_secret_is_not_shown_in_repr() -> None:
    settings = ServiceSettings(auth={"jwt_secret": "a-very-secret-value-of-32-chars!!"})
    assert "a-very-secret-value" not in repr(settings)
    assert "a-very-secret-value" not in str(settings.model_dump())


# -- environment variables ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "read"),
    [
        ({"TESTSVC_KAFKA__BOOTSTRAP_SERVERS": "k1:9093,k2:9093"}, lambda s: s.kafka.bootstrap_servers),
        ({"TESTSVC_KAFKA__TOPIC_PREFIX": "ci-42."}, lambda s: s.kafka.topic_prefix),
        ({"TESTSVC_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, lambda s: s.kafka.security_protocol),
        ({"TESTSVC_KAFKA__LINGER_MS": "20"}, lambda s: s.kafka.linger_ms),
        ({"TESTSVC_AUTH__ISSUER": "https://idp.example"}, lambda s: s.auth.issuer),
        ({"TESTSVC_AUTH__ALGORITHMS": '["RS256","ES256"]'}, lambda s: s.auth.algorithms),
        ({"TESTSVC_HTTP__MAX_BODY_BYTES": "2048"}, lambda s: s.http.max_body_bytes),
        ({"TESTSVC_HTTP__CORS_ORIGINS": '["https://a.example"]'}, lambda s: s.http.cors_origins),
        ({"TESTSVC_CONSUMER__MAX_ATTEMPTS": "9"}, lambda s: s.consumer.max_attempts),
        ({"TESTSVC_RELAY__POLL_INTERVAL_SECONDS": "0.05"}, lambda s: s.relay.poll_interval_seconds),
        ({"TESTSVC_LA_CODE": "123"}, lambda s: s.la_code),
        ({"TESTSVC_LOG_LEVEL": "DEBUG"}, lambda s: s.log_level),
        ({"TESTSVC_LOG_JSON": "false"}, lambda s: s.log_json),
        ({"TESTSVC_CHECK_SCHEMA_ON_START": "0"}, lambda s: s.check_schema_on_start),
        ({"TESTSVC_DATABASE_POOL_SIZE": "3"}, lambda s: s.database_pool_size),
    ],
)
def test_prefixed_and_nested_environment_variables_are_read(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], read: Any
) -> None:
    expected = {
        "TESTSVC_KAFKA__BOOTSTRAP_SERVERS": "k1:9093,k2:9093",
        "TESTSVC_KAFKA__TOPIC_PREFIX": "ci-42.",
        "TESTSVC_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "TESTSVC_KAFKA__LINGER_MS": 20,
        "TESTSVC_AUTH__ISSUER": "https://idp.example",
        "TESTSVC_AUTH__ALGORITHMS": ["RS256", "ES256"],
        "TESTSVC_HTTP__MAX_BODY_BYTES": 2048,
        "TESTSVC_HTTP__CORS_ORIGINS": ["https://a.example"],
        "TESTSVC_CONSUMER__MAX_ATTEMPTS": 9,
        "TESTSVC_RELAY__POLL_INTERVAL_SECONDS": 0.05,
        "TESTSVC_LA_CODE": "123",
        "TESTSVC_LOG_LEVEL": "DEBUG",
        "TESTSVC_LOG_JSON": False,
        "TESTSVC_CHECK_SCHEMA_ON_START": False,
        "TESTSVC_DATABASE_POOL_SIZE": 3,
    }
    ((name, value),) = env.items()
    monkeypatch.setenv(name, value)
    before = SvcSettings.model_construct()
    settings = SvcSettings()
    assert read(settings) == expected[name]
    assert read(settings) != read(before)


def test_nested_variables_merge_with_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_KAFKA__BOOTSTRAP_SERVERS", "broker:9092")
    settings = SvcSettings()
    assert settings.kafka.bootstrap_servers == "broker:9092"
    assert settings.kafka.request_timeout_ms == 30_000  # other nested defaults untouched
    assert settings.kafka.security_protocol == "PLAINTEXT"


def test_full_production_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_MODE", "production")
    monkeypatch.setenv("TESTSVC_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("TESTSVC_BUS", "kafka")
    monkeypatch.setenv("TESTSVC_AUTH__JWT_SECRET", GOOD_SECRET)
    monkeypatch.setenv("TESTSVC_KAFKA__SASL_PASSWORD", "kafka-pw")
    settings = SvcSettings()
    assert settings.mode == "production"
    assert settings.auth.jwt_secret == SecretStr(GOOD_SECRET)
    assert settings.kafka.sasl_password == SecretStr("kafka-pw")
    assert settings.service_name == "test-svc"


def test_production_from_the_environment_refuses_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_MODE", "production")
    monkeypatch.setenv("TESTSVC_BUS", "kafka")
    monkeypatch.setenv("TESTSVC_AUTH__JWT_SECRET", GOOD_SECRET)
    with pytest.raises(ValidationError, match=r"test-svc refuses to start in production mode.*SQLite"):
        SvcSettings()


def test_unprefixed_and_foreign_prefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA__BOOTSTRAP_SERVERS", "wrong:1")
    monkeypatch.setenv("OTHER_KAFKA__BOOTSTRAP_SERVERS", "wrong:2")
    monkeypatch.setenv("TESTSVC_KAFKA_BOOTSTRAP_SERVERS", "wrong:3")  # single underscore: not nesting
    assert SvcSettings().kafka.bootstrap_servers == "127.0.0.1:9092"


def test_invalid_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_KAFKA__SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValidationError):
        SvcSettings()


# -- the five services --------------------------------------------------------------------------

SERVICES = [
    pytest.param(ReferralSettings, "REFERRAL_", "referral-api", id="referral-api"),
    pytest.param(CmeSettings, "CME_", "cme-tracker", id="cme-tracker"),
    pytest.param(ExclusionsSettings, "EXCLUSIONS_", "exclusions", id="exclusions"),
    pytest.param(EnforcementSettings, "ENFORCEMENT_", "enforcement", id="enforcement"),
    pytest.param(ReportingSettings, "REPORTING_", "reporting", id="reporting"),
]


@pytest.mark.parametrize(("cls", "prefix", "name"), SERVICES)
def test_service_settings_defaults(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], prefix: str, name: str
) -> None:
    import os

    for variable in [v for v in os.environ if v.startswith(prefix)]:  # e.g. from deploy/local/up.sh
        monkeypatch.delenv(variable)
    settings = cls()
    assert settings.service_name == name
    assert settings.database_url == f"sqlite+aiosqlite:///./var/{name}.db"
    assert settings.mode == "local"


@pytest.mark.parametrize(("cls", "prefix", "name"), SERVICES)
def test_service_settings_read_their_own_prefix(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], prefix: str, name: str
) -> None:
    monkeypatch.setenv(f"{prefix}KAFKA__BOOTSTRAP_SERVERS", f"{name}-broker:9092")
    monkeypatch.setenv(f"{prefix}AUTH__AUDIENCE", f"{name}-aud")
    monkeypatch.setenv(f"{prefix}HTTP__MAX_BODY_BYTES", "4096")
    monkeypatch.setenv(f"{prefix}DATABASE_URL", f"postgresql+asyncpg://u@db/{name}")
    monkeypatch.setenv(f"{prefix}LA_CODE", "919")
    settings = cls()
    assert settings.kafka.bootstrap_servers == f"{name}-broker:9092"
    assert settings.auth.audience == f"{name}-aud"
    assert settings.http.max_body_bytes == 4096
    assert settings.database_url == f"postgresql+asyncpg://u@db/{name}"
    assert settings.la_code == "919"


@pytest.mark.parametrize(("cls", "prefix", "name"), SERVICES)
def test_service_settings_ignore_other_services_prefixes(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], prefix: str, name: str
) -> None:
    for other in ("REFERRAL_", "CME_", "EXCLUSIONS_", "ENFORCEMENT_", "REPORTING_", "TESTSVC_"):
        if other != prefix:
            monkeypatch.setenv(f"{other}KAFKA__BOOTSTRAP_SERVERS", f"{other}broker:9092")
            monkeypatch.setenv(f"{other}MODE", "production")
    settings = cls()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.mode == "local"


@pytest.mark.parametrize(("cls", "prefix", "name"), SERVICES)
def test_service_settings_refuse_unsafe_production(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], prefix: str, name: str
) -> None:
    monkeypatch.setenv(f"{prefix}MODE", "production")
    with pytest.raises(ValidationError, match=f"{name} refuses to start in production mode"):
        cls()
    monkeypatch.setenv(f"{prefix}DATABASE_URL", f"postgresql+asyncpg://u@db/{name}")
    monkeypatch.setenv(f"{prefix}BUS", "kafka")
    monkeypatch.setenv(f"{prefix}AUTH__JWT_SECRET", GOOD_SECRET)
    assert cls().mode == "production"
