"""docker-compose.yml runs what `pulih` knows: every service, from the one image, with an
environment its settings class accepts and that points at the containers beside it.

Always checked on the file as PyYAML reads it (anchors and merge keys resolved), with or
without Docker; where a compose client is installed (`docker compose` or `docker-compose`),
`compose config` must also accept the file and resolve it to the same services, commands and
environments."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.cli.common import PORT_OFFSETS, SERVICES
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"

Obj = dict[str, Any]


@cache
def compose() -> Obj:
    document: Obj = yaml.safe_load(COMPOSE.read_text())
    return document


def settings_of(service: str, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The service's settings as its container would build them: its compose environment only."""
    import os

    for name in list(os.environ):
        if name.startswith(("PULIH_", "KAFKA_", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in compose()["services"][service]["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings_cls = importlib.import_module(f"{SERVICES[service]}.settings").Settings
    settings: ServiceSettings = settings_cls()
    return settings


def known_variables(service: str) -> set[str]:
    """Every environment variable the service's settings class reads."""
    from pydantic import AliasChoices

    settings_cls = importlib.import_module(f"{SERVICES[service]}.settings").Settings
    names: set[str] = set()
    for field_name, field in settings_cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"PULIH_{field_name.upper()}")
    return names


def test_compose_runs_every_service_pulih_knows_and_nothing_unknown() -> None:
    services = compose()["services"]
    ours = {name for name, spec in services.items() if spec.get("image") == "pulih:dev"}
    assert ours == set(SERVICES)
    for name in SERVICES:
        assert services[name]["command"] == [name]  # the image's entrypoint is `pulih serve`


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_is_a_setting_of_the_service(service: str) -> None:
    environment = compose()["services"][service]["environment"]
    unknown = set(environment) - known_variables(service)
    assert not unknown, f"{service}: compose sets variables no setting reads: {sorted(unknown)}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_environment_builds_settings_pointing_at_the_containers(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose()["services"]
    settings = settings_of(service, monkeypatch)
    assert settings.environment == "development"
    # The published port reaches the port the service listens on, on `make run`'s host port.
    (published,) = services[service]["ports"]
    host_port, container_port = published.rsplit(":", 2)[-2:]
    assert int(container_port) == settings.http_port and settings.http_host == "0.0.0.0"
    assert int(host_port) == 8000 + PORT_OFFSETS[service]
    for server in settings.kafka_bootstrap_servers.split(","):
        assert urlsplit(f"//{server}").hostname == "kafka"
    url = urlsplit(settings.resolved_database_url)
    if service == "gateway":
        assert "PULIH_DATABASE_URL" not in services[service]["environment"]
        for other in SERVICES:
            if other != "gateway":
                target = urlsplit(getattr(settings, f"{other.replace('-', '_')}_url"))
                assert (target.hostname, target.port) == (other, settings.http_port), other
    else:
        assert url.scheme == "postgresql+asyncpg" and url.hostname == f"{service}-db"
        database = services[f"{service}-db"]["environment"]
        assert (url.username, url.password, url.path) == (
            database["POSTGRES_USER"],
            database["POSTGRES_PASSWORD"],
            f"/{database['POSTGRES_DB']}",
        )


def test_kafka_init_creates_the_topics_the_services_expect(monkeypatch: pytest.MonkeyPatch) -> None:
    script = compose()["services"]["kafka-init"]["command"][0]
    provinces = settings_of("registry", monkeypatch).provinces
    assert provinces == ("74",)
    for province in provinces:
        assert f"topic ibm.inbound.{province} " in script
        assert f"topic ibm.receipts.{province} " in script
    consumers = [s for s in SERVICES if s != "gateway"]
    assert f"for group in {' '.join(consumers)}; do" in script


def compose_client() -> list[str] | None:
    """`docker compose` when the docker client has the plugin, else `docker-compose`."""
    if docker := shutil.which("docker"):
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    if standalone := shutil.which("docker-compose"):
        return [standalone]
    return None


def test_compose_config_agrees_with_the_file_where_a_client_is_installed() -> None:
    parsed = compose()
    assert parsed["name"] == "pulih" and "services" in parsed
    client = compose_client()
    if client is None:
        return  # no compose client here: the checks above are what this machine can do
    out = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    resolved = json.loads(out.stdout)["services"]
    assert set(resolved) == set(parsed["services"])
    for name in SERVICES:
        assert resolved[name]["command"] == parsed["services"][name]["command"]
        assert resolved[name]["environment"] == {
            key: str(value) for key, value in parsed["services"][name]["environment"].items()
        }
