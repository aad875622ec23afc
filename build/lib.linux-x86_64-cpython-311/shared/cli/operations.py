"""Operating the platform: local infrastructure, dead letters, migrations, outbox backlogs and
development tokens."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.cli.common import (
    ServiceArg,
    auth_app,
    db_app,
    dlq_app,
    infra_app,
    local_kafka,
    local_postgres,
    outbox_app,
    service_module,
    service_settings,
)
from shared.settings import ServiceSettings


@infra_app.command("up")
def infra_up(postgres: bool = typer.Option(True, help="Also start PostgreSQL.")) -> None:
    """Start Kafka (and PostgreSQL); print the environment that points at them."""
    broker = local_kafka()
    broker.start()
    typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}")
    if postgres:
        cluster = local_postgres()
        cluster.start()
        typer.echo(f"export PULIH_TEST_POSTGRES_URL={cluster.url()}")


@infra_app.command("down")
def infra_down() -> None:
    """Stop what `infra up` started (data stays under the state dir)."""
    for name, part in (("kafka", local_kafka()), ("postgres", local_postgres())):
        typer.echo(f"{name}: {'stopped' if part.stop() else 'was not running'}")


@infra_app.command("status")
def infra_status() -> None:
    """Whether the local Kafka and PostgreSQL (`infra up`, `make run`) run, and where."""
    broker, cluster = local_kafka(), local_postgres()
    typer.echo(
        f"kafka     {'running' if broker.running() else 'stopped'}  "
        f"{broker.bootstrap_servers}  {broker.data_dir}"
    )
    typer.echo(
        f"postgres  {'running' if cluster.running() else 'stopped'}  "
        f"{cluster.url()}  {cluster.data_dir}"
    )


def _kafka(group: str) -> tuple[str, Any, Any]:
    """Broker, topic names and credentials for a group's DLQ commands, from the environment."""
    from shared.messaging.broker import Topics

    settings = ServiceSettings(service_name=group)
    return settings.kafka_bootstrap_servers, Topics(settings.topic_prefix), settings.kafka_auth


@dlq_app.command("list")
def dlq_list(group: Annotated[str, typer.Argument(help="Consumer group (service name).")]) -> None:
    """Show every dead letter of a group: where it came from and why."""
    from shared.messaging.dlq import list_dead_letters

    bootstrap, topics, auth = _kafka(group)
    letters = asyncio.run(list_dead_letters(bootstrap, group, topics, auth))
    for d in letters:
        typer.echo(
            f"{d.partition}:{d.offset}  {d.original_topic}[{d.original_partition}]"
            f"@{d.original_offset}  {d.event_type or '-'}  {d.event_id or '-'}  "
            f"attempts={d.attempts}  {d.reason}"
        )
    typer.echo(f"{len(letters)} dead letter(s) for {group}")


@dlq_app.command("redrive")
def dlq_redrive(
    group: Annotated[str, typer.Argument(help="Consumer group (service name).")],
) -> None:
    """Send the group's dead letters back to it (each one once)."""
    from shared.messaging.dlq import redrive

    bootstrap, topics, auth = _kafka(group)
    moved = asyncio.run(redrive(bootstrap, group, topics, auth))
    typer.echo(f"redrove {moved} dead letter(s) to {group}")


@db_app.command("upgrade")
def db_upgrade(service: ServiceArg) -> None:
    """Apply the service's migrations to its database."""
    from shared.migrations import upgrade

    db = service_module(service, "db")
    settings = service_settings(service)
    upgrade(db.MIGRATIONS, settings.resolved_database_url, settings.service_name)
    typer.echo(f"{service}: database at head")


OUTBOX_SERVICES = ("registry", "client-case", "scheduling", "reporting")


@outbox_app.command("status")
def outbox_status(
    service: Annotated[
        list[str] | None,
        typer.Argument(help=f"Services to look at (default: {', '.join(OUTBOX_SERVICES)})."),
    ] = None,
) -> None:
    """Per service database: outbox rows not yet published and the age of the oldest.

    Development: each service's SQLite under the state dir. With PULIH_DATABASE_URL (one
    service's PostgreSQL, as in its pod) name that one service. A backlog that stays, or an
    age that grows, means the relay cannot publish: look at Kafka and the service's logs.
    """
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.exc import SQLAlchemyError

    names = service or list(OUTBOX_SERVICES)
    failed: list[str] = []
    for name in names:
        if name not in OUTBOX_SERVICES:
            raise typer.BadParameter(
                f"{name!r} keeps no outbox; choose from {', '.join(OUTBOX_SERVICES)}"
            )
    if os.environ.get("PULIH_DATABASE_URL") and len(names) != 1:
        raise typer.BadParameter(
            "PULIH_DATABASE_URL is one service's database: name that service",
            param_hint="SERVICE",
        )
    typer.echo(f"{'service':12} {'backlog':>8} {'oldest':>10}  database")
    for name in names:
        url = service_settings(name).resolved_database_url
        shown = make_url(url).render_as_string(hide_password=True)
        database = make_url(url).database
        if url.startswith("sqlite") and database and not Path(database).exists():
            typer.echo(f"{name:12} {'-':>8} {'-':>10}  {shown} (no database yet)")
            continue
        try:
            backlog, age = asyncio.run(_outbox_backlog(url))
        except (SQLAlchemyError, OSError) as exc:
            failed.append(name)
            typer.echo(f"{name:12} {'?':>8} {'?':>10}  {shown} (cannot read: {type(exc).__name__})")
            continue
        typer.echo(f"{name:12} {backlog:>8} {_age(age):>10}  {shown}")
    if failed:
        typer.echo(f"could not read the outbox of {', '.join(failed)}", err=True)
        raise typer.Exit(1)


async def _outbox_backlog(url: str) -> tuple[int, float | None]:
    """Rows not yet sent and the age in seconds of the oldest (None when none waits)."""
    from datetime import UTC, datetime

    from sqlalchemy import MetaData, func, select

    from shared.messaging.tables import platform_tables
    from shared.persistence import create_engine

    outbox = platform_tables(MetaData()).outbox
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            count, oldest = (
                await connection.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.sent_at.is_(None)
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    if oldest is None:
        return int(count), None
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max((datetime.now(UTC) - oldest).total_seconds(), 0.0)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s"


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@auth_app.command("token")
def auth_token(
    role: Annotated[
        list[str],
        typer.Option(help="e.g. province-operator:74, unit-agent:<unit-id>; repeat for more."),
    ],
    ttl: Annotated[str, typer.Option(help="Lifetime: 30m, 8h, 2d.")] = "8h",
    sub: Annotated[str, typer.Option(help="The token's subject (who).")] = "developer",
) -> None:
    """Print a bearer token of the development issuer. Services accept it only outside
    production (PULIH_ENVIRONMENT=production needs a real issuer and its JWKS)."""
    from shared.security.roles import NotAuthenticated
    from shared.security.tokens import development_token

    unit = ttl[-1:]
    if unit not in _DURATION or not ttl[:-1].isdigit():
        raise typer.BadParameter("a number and s, m, h or d, e.g. 8h", param_hint="--ttl")
    try:
        typer.echo(
            development_token(role, subject=sub, ttl_seconds=int(ttl[:-1]) * _DURATION[unit])
        )
    except NotAuthenticated as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
