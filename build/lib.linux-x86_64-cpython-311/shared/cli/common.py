"""The `pulih` command tree and what its commands share: the services, their ports, their
settings and the local Kafka and PostgreSQL under the state dir."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.settings import ServiceSettings, default_state_dir

app = typer.Typer(help="Pulih platform commands.", no_args_is_help=True)
infra_app = typer.Typer(help="Local Kafka and PostgreSQL on loopback (no Docker needed).")
dlq_app = typer.Typer(help="Dead letters of a consumer group.")
db_app = typer.Typer(help="Service databases.")
auth_app = typer.Typer(help="Tokens of the development issuer.")
outbox_app = typer.Typer(help="Events waiting in each service's outbox.")
app.add_typer(infra_app, name="infra")
app.add_typer(auth_app, name="auth")
app.add_typer(dlq_app, name="dlq")
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")

SERVICES = {
    "registry": "services.registry",
    "client-case": "services.client_case",
    "scheduling": "services.scheduling",
    "reporting": "services.reporting",
    "gateway": "services.gateway",
}
PORT_OFFSETS = {"gateway": 0, "registry": 1, "client-case": 2, "scheduling": 3, "reporting": 4}
ROOT = Path(__file__).resolve().parents[2]

ServiceArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}")]


def service_module(name: str, part: str) -> Any:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")
    return importlib.import_module(f"{SERVICES[name]}.{part}")


def service_settings(name: str, **overrides: Any) -> ServiceSettings:
    """A service's settings; its port is PULIH_HTTP_PORT, else PULIH_HTTP_PORT_BASE (8000)
    plus the service's offset, so all five fit side by side."""
    settings_cls = service_module(name, "settings").Settings
    base = int(os.environ.get("PULIH_HTTP_PORT_BASE", "8000"))
    if "PULIH_HTTP_PORT" not in os.environ:
        overrides.setdefault("http_port", base + PORT_OFFSETS[name])
    if name == "gateway":  # the services beside it, unless told where they are
        for service in SERVICES:
            field = f"{service.replace('-', '_')}_url"
            if service != "gateway" and f"PULIH_{field.upper()}" not in os.environ:
                overrides.setdefault(field, f"http://127.0.0.1:{base + PORT_OFFSETS[service]}")
    settings: ServiceSettings = settings_cls(**overrides)
    return settings


def state_dir() -> Path:
    return Path(os.environ.get("PULIH_STATE_DIR", default_state_dir()))


def local_kafka() -> Any:
    from shared.infra.kafka import KafkaBroker

    port = int(os.environ.get("PULIH_KAFKA_PORT", "9092"))
    return KafkaBroker(state_dir() / "infra" / "kafka", port, port + 1)


def local_postgres() -> Any:
    from shared.infra.postgres import PostgresCluster

    return PostgresCluster(
        state_dir() / "infra" / "postgres", int(os.environ.get("PULIH_PG_PORT", "55432"))
    )
