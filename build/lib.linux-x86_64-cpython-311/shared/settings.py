"""Settings every service shares, read from the environment by pydantic-settings.

Each service subclasses `ServiceSettings` and sets its name; nothing reads settings at import
time. Outside development the services refuse to start with the development secrets.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.broker import KafkaAuth
from shared.regions import PROVINCE_CODES
from shared.security.tokens import AuthSettings

DEV_SECRET = "development-only-secret-not-for-production"  # noqa: S105 - refused in production


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


def default_state_dir() -> Path:
    # /var/tmp survives reboots and is traversable by the unprivileged PostgreSQL owner.
    return Path("/var/tmp/pulih")  # noqa: S108 - local development state, not secrets


class ServiceSettings(BaseSettings, AuthSettings):
    """What a service needs to run. Environment variables: PULIH_<FIELD>, plus the aliases."""

    model_config = SettingsConfigDict(env_prefix="PULIH_", extra="ignore")

    service_name: str = Field(description="One name everywhere: folder, group, database.")
    environment: Environment = Field(
        default=Environment.development,
        description="`production` refuses development keys, secrets and the development issuer.",
    )
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Where SQLite files and local infrastructure live.",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="The broker(s); `make run` then starts no local Kafka.",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "PULIH_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: str | None = Field(default=None, description="e.g. SCRAM-SHA-512.")
    kafka_sasl_username: str | None = Field(default=None, description="SASL user.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_cafile: str | None = Field(default=None, description="CA bundle of the brokers.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; SQLite under state_dir when unset."
    )
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name (tests, tenants)."
    )
    migrate_on_start: bool = Field(
        default=True, description="Run the service's migrations when it starts."
    )
    http_host: str = Field(default="127.0.0.1", description="Where `pulih serve` listens.")
    http_port: int = Field(
        default=8000, description="Its port (`pulih run`: 8000 + the service's offset)."
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "PULIH_OTEL_ENDPOINT"),
        description="An OpenTelemetry collector (OTLP/gRPC) to send traces to.",
    )
    otel_console: bool = Field(default=False, description="Print spans to the console.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET), description="The service's secret; set it in production."
    )

    inbound_provinces: str = Field(
        default="all",
        description="Provinces whose inbound and receipts topics are created at start: `all` "
        "(the 38 of the region tree) or a comma-separated list of 2-digit codes.",
    )
    inbound_partitions: int = Field(
        default=3, ge=1, description="Partitions of each province's inbound and receipts topics."
    )
    max_request_bytes: int = Field(
        default=2 << 20, ge=1024, description="The largest request body a service takes (413)."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins browsers may call from (JSON list, e.g. ["https://dasbor.bnn.go.id"]);'
        " none unless set.",
    )
    relay_batch_size: int = Field(
        default=500, ge=1, description="Outbox rows a relay sends at once."
    )
    relay_idle_seconds: float = Field(
        default=0.2, gt=0, description="How often an idle relay looks for new outbox rows."
    )
    outbox_keep_sent_seconds: float = Field(
        default=300,
        ge=0,
        description="How long a published event stays in its service's outbox before it is "
        "deleted (Kafka keeps it for its topic's retention); 0: at the relay's next look.",
    )
    consumer_batch_size: int = Field(
        default=500,
        ge=1,
        description="Records a consumer takes per partition batch, applied set-based in one "
        "transaction.",
    )
    consumer_max_attempts: int = Field(
        default=3, ge=1, description="Tries before a message is dead-lettered."
    )
    consumer_retry_backoff_seconds: float = Field(
        default=0.2, ge=0, description="The first wait before retrying after an outage."
    )

    @property
    def kafka_auth(self) -> KafkaAuth:
        password = self.kafka_sasl_password
        return KafkaAuth(
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password else None,
            ssl_cafile=self.kafka_ssl_cafile,
        )

    @property
    def provinces(self) -> tuple[str, ...]:
        if self.inbound_provinces.strip() == "all":
            return PROVINCE_CODES
        return tuple(p.strip() for p in self.inbound_provinces.split(",") if p.strip())

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'data' / f'{self.service_name}.db'}"

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> ServiceSettings:
        if (
            self.environment is Environment.production
            and self.secret_key.get_secret_value() == DEV_SECRET
        ):
            raise ValueError("PULIH_SECRET_KEY must be set in production")
        return self
