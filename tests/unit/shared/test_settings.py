"""Settings come from the environment, and production refuses the development secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registry.settings import Settings


def test_production_refuses_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULIH_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="PULIH_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("PULIH_SECRET_KEY", "a-real-secret-from-a-kubernetes-secret")
    assert Settings().environment == "production"


def test_environment_points_at_existing_kafka_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0.kafka:9092")
    monkeypatch.setenv("PULIH_DATABASE_URL", "postgresql+asyncpg://registry@db/registry")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "kafka-0.kafka:9092"
    assert settings.resolved_database_url == "postgresql+asyncpg://registry@db/registry"


def test_embedded_default_is_sqlite_per_service(tmp_path: object) -> None:
    settings = Settings(state_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/data/registry.db"


def test_kafka_credentials_reach_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULIH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PULIH_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("PULIH_KAFKA_SASL_USERNAME", "registry")
    monkeypatch.setenv("PULIH_KAFKA_SASL_PASSWORD", "from-a-strimzi-secret")
    options = Settings().kafka_auth.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "registry"
    assert options["sasl_plain_password"] == "from-a-strimzi-secret"
    assert options["ssl_context"] is not None
    assert "from-a-strimzi-secret" not in repr(Settings())
