"""Settings shared by every service (pydantic-settings).

Each service subclasses :class:`ServiceSettings` with its own prefix (``REFERRAL_``, ``CME_``,
``EXCLUSIONS_``, ``ENFORCEMENT_``, ``REPORTING_``) and ``__`` for nesting, e.g.
``CME_KAFKA__BOOTSTRAP_SERVERS``. Outside ``local`` and ``test`` modes the settings refuse to load
with a default secret, an SQLite database or the embedded bus: production must be configured.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_JWT_SECRET = "local-development-secret-not-for-production-use"  # noqa: S105 - local only

Mode = Literal["local", "test", "production"]


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    # Prepended to every topic and consumer group name: lets several environments (or test
    # runs) share one cluster without seeing each other's records. Empty in a dedicated cluster.
    topic_prefix: str = ""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    request_timeout_ms: int = 30_000
    # Producer batching: a short linger lets the relay's sends share a request.
    linger_ms: int = 5
    max_batch_size: int = 262_144


class AuthSettings(BaseModel):
    jwt_secret: SecretStr | None = Field(default=SecretStr(LOCAL_JWT_SECRET))
    jwks_url: str | None = None
    issuer: str = "inclusion-local"
    audience: str = "inclusion-platform"
    algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    leeway_seconds: int = 30
    jwks_cache_seconds: int = 600


class HttpSettings(BaseModel):
    max_body_bytes: int = 1_048_576
    # Bulk endpoints (attendance marks) may accept more; they stream rather than buffer.
    max_bulk_body_bytes: int = 64 * 1_048_576
    rate_limit_per_minute: int = 600
    # A request body must keep arriving: no chunk for body_idle_timeout_seconds, or more than
    # body_timeout_seconds in all spent waiting for it, answers 408 and closes the connection (a
    # slow or stalled client must not hold a request's memory and session forever). uvicorn has no
    # such timeout (its timeout_keep_alive is only between requests). 0 turns either off.
    body_idle_timeout_seconds: float = 30.0
    body_timeout_seconds: float = 300.0
    cors_origins: list[str] = Field(default_factory=list)
    # Signs list cursors (inclusion_kit.pagination) so clients cannot forge them. Required outside
    # local and test modes (at least 32 characters); locally one is derived from the JWT secret.
    cursor_secret: SecretStr | None = None


class RelaySettings(BaseModel):
    # Rows per pass: a county day is hundreds of thousands of events, and each pass costs a
    # fetch, a broker round trip and a delete whatever its size.
    batch_size: int = 2000
    poll_interval_seconds: float = 0.5
    lock_retry_seconds: float = 2.0
    # Published rows are deleted (they are in Kafka); set true to keep them stamped with
    # published_at for retention_days, e.g. while investigating a subscriber's complaint.
    keep_published: bool = False
    retention_days: int = 7


class ConsumerSettings(BaseModel):
    max_attempts: int = 5
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    # Records applied in one transaction when a consumer is behind (all-or-nothing per batch,
    # falling back to one by one on failure).
    batch_max_records: int = 2000


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused start must not print the secret or password it refused.
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True)

    service_name: str = "service"
    mode: Mode = "local"
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    database_pool_size: int = 10
    bus: Literal["kafka", "embedded"] = "embedded"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    relay: RelaySettings = Field(default_factory=RelaySettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    la_code: str = Field(default="886", pattern=r"^[0-9]{3}$")
    calendar_path: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    # Apps refuse to start when the schema is behind the code; tests may turn it off.
    check_schema_on_start: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.mode in ("local", "test"):
            return self
        problems: list[str] = []
        secret = self.auth.jwt_secret.get_secret_value() if self.auth.jwt_secret else None
        if self.auth.jwks_url is None:
            if not secret or secret == LOCAL_JWT_SECRET:
                problems.append("auth: set AUTH__JWKS_URL (or a non-default AUTH__JWT_SECRET)")
            elif len(secret) < 32:
                problems.append("auth: AUTH__JWT_SECRET must be at least 32 characters")
        elif secret == LOCAL_JWT_SECRET and "jwt_secret" in self.auth.model_fields_set:
            problems.append("auth: the local development secret must not be set in production")
        if self.database_url.startswith("sqlite"):
            problems.append("database_url: production runs on PostgreSQL, not SQLite")
        if self.bus != "kafka":
            problems.append("bus: production runs on Kafka, not the embedded bus")
        if problems:
            raise ValueError(
                f"{self.service_name} refuses to start in {self.mode} mode: " + "; ".join(problems)
            )
        return self
