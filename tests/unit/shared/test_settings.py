"""Settings come from the environment, and production refuses the development secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registry.settings import Settings


def test_production_refuses_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULIH_ENVIRONMENT", "production")
    monkeypatch.setenv("PULIH_AUTH_ISSUER", "https://login.bnn.go.id/realms/pulih")
    monkeypatch.setenv("PULIH_AUTH_JWKS_URL", "https://login.bnn.go.id/realms/pulih/certs")
    with pytest.raises(ValidationError, match="PULIH_MASTER_KEYS"):
        Settings()
    monkeypatch.setenv("PULIH_MASTER_KEYS", "m1:" + "B" * 43 + "=")
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


@pytest.mark.parametrize("service", ["registry", "client_case", "gateway"])
def test_settings_with_key_mixins_still_read_the_pulih_prefix(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.setenv("PULIH_INBOUND_PROVINCES", "74,73")
    monkeypatch.setenv("PULIH_MASTER_KEYS", "m9:" + "A" * 44)
    settings = importlib.import_module(f"services.{service}.settings").Settings()
    assert settings.provinces == ("74", "73")
    if hasattr(settings, "master_keys"):
        assert settings.master_keys.get_secret_value().startswith("m9:")
