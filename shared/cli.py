"""`pulih`: the one front door for people and scripts. Later issues add their own commands."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.infra._process import exit_with_parent
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
ROOT = Path(__file__).resolve().parents[1]

ServiceArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}")]


def _service_module(name: str, part: str) -> Any:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")
    return importlib.import_module(f"{SERVICES[name]}.{part}")


def _settings(name: str, **overrides: Any) -> ServiceSettings:
    """A service's settings; its port is PULIH_HTTP_PORT, else PULIH_HTTP_PORT_BASE (8000)
    plus the service's offset, so all five fit side by side."""
    settings_cls = _service_module(name, "settings").Settings
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


@app.command()
def serve(service: ServiceArg) -> None:
    """Run one service: HTTP API, outbox relay and consumers, until SIGTERM."""
    import uvicorn

    from shared.telemetry import setup_logging, setup_tracing

    settings = _settings(service)
    setup_logging(settings.service_name, settings.log_level)
    if sys.stderr.isatty() and settings.environment != "production":
        _readable_logs()
    setup_tracing(settings.service_name, settings)
    application = _service_module(service, "app").build(settings)
    uvicorn.run(
        application,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def run(
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="Seed the demo province once (default: only when this run starts its own Kafka).",
        ),
    ] = None,
) -> None:
    """Start local Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set) and all five services; on
    the first start, seed a demo province through its inbound topic (`pulih simulate --demo`)
    and print where to look and a token per role.

    Each service in its own process (`pulih serve <name>`), as compose and Kubernetes run
    them, so one service's load cannot slow another's API or health; SQLite under the state
    dir. Ctrl-C or SIGTERM stops every service, then Kafka; a service that dies stops the run.
    """
    broker = None
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker = _local_kafka()
        typer.echo(f"starting Kafka on {broker.bootstrap_servers} (data in {broker.data_dir})")
        broker.start(die_with_parent=True)
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    services: dict[str, subprocess.Popen[bytes]] = {}
    failed = None
    try:
        for name in SERVICES:
            settings = _settings(name)
            services[name] = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "serve", name],
                env={**os.environ, "PULIH_HTTP_PORT": str(settings.http_port)},
                start_new_session=True,  # Ctrl-C reaches this process, which stops them in turn
                preexec_fn=exit_with_parent,
            )
            typer.echo(
                f"{name:12} http://{settings.http_host}:{settings.http_port}  "
                f"(/health/ready, /metrics, /docs)"
            )
        gateway = f"http://127.0.0.1:{_settings('gateway').http_port}"
        seeding = broker is not None if demo is None else demo  # not someone else's Kafka
        seed = ["--once"] if seeding else ["--no-seed"]
        seeder = subprocess.Popen(  # seeds the demo province once, then prints the welcome
            [
                *(sys.executable, "-m", "shared.cli", "simulate", "--demo", *seed),
                *("--welcome", "--totals", str(_state_dir() / "demo-totals.json")),
            ],
            env={**os.environ, "PULIH_GATEWAY_URL": gateway},
            start_new_session=True,
            preexec_fn=exit_with_parent,
        )
        while not stopping and failed is None:
            failed = next((n for n, p in services.items() if p.poll() is not None), None)
            if seeder.returncode is None and seeder.poll():
                typer.echo(
                    f"seeding the demo failed (exit {seeder.returncode}); the platform runs on"
                )
            time.sleep(0.2)
        if seeder.poll() is None:
            seeder.terminate()
    finally:
        for process in services.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in services.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if broker is not None:
            broker.stop()
    if failed is not None:
        typer.echo(f"{failed} exited with {services[failed].returncode}; stopped the rest")
        raise typer.Exit(1)
    typer.echo("stopped")


def _readable_logs() -> None:
    """On a terminal, one short line per record instead of JSON (which stays for machines)."""
    import logging

    for handler in logging.getLogger().handlers:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(service)-11s %(levelname)-7s %(message)s", "%H:%M:%S")
        )


def _state_dir() -> Path:
    return Path(os.environ.get("PULIH_STATE_DIR", default_state_dir()))


def _local_kafka() -> Any:
    from shared.infra.kafka import KafkaBroker

    port = int(os.environ.get("PULIH_KAFKA_PORT", "9092"))
    return KafkaBroker(_state_dir() / "infra" / "kafka", port, port + 1)


def _local_postgres() -> Any:
    from shared.infra.postgres import PostgresCluster

    return PostgresCluster(
        _state_dir() / "infra" / "postgres", int(os.environ.get("PULIH_PG_PORT", "55432"))
    )


@app.command()
def simulate(
    demo: Annotated[bool, typer.Option(help="The demo: a year of province 74, seed 2026.")] = False,
    province: Annotated[
        str, typer.Option(help="2-digit province code(s), comma-separated: published at once.")
    ] = "74",
    units: Annotated[int, typer.Option(help="Units to form, per province.")] = 24,
    clients: Annotated[
        int, typer.Option(help="People screened over the year, per province.")
    ] = 320,
    seed: Annotated[int, typer.Option(help="Same seed and day, same programme.")] = 2026,
    via: Annotated[
        str, typer.Option(help="kafka (the inbound topic) or ingest (the gateway's POST /ingest).")
    ] = "kafka",
    faults: Annotated[
        float,
        typer.Option(help="Share of facts also sent again, broken, or naming no known case."),
    ] = 0.0,
    totals: Annotated[
        Path | None, typer.Option(help="Write the exact totals generated here (JSON).")
    ] = None,
    once: Annotated[
        bool, typer.Option(help="Skip if this state dir was seeded; resume an interrupted one.")
    ] = False,
    no_seed: Annotated[bool, typer.Option(help="Publish nothing (with --welcome).")] = False,
    welcome: Annotated[bool, typer.Option(help="Then print how to get in.")] = False,
) -> None:
    """Publish provinces' programmes through their real inbound paths, as their systems
    would, and print what the platform answered. Needs the platform running (`make run`)."""
    from shared.simulation import demo as simulation

    if demo:
        province, units, clients, seed = "74", 24, 320, 2026
    if via not in ("kafka", "ingest"):
        raise typer.BadParameter("kafka or ingest", param_hint="--via")
    codes = [code.strip() for code in province.split(",") if code.strip()]
    gateway = os.environ.get("PULIH_GATEWAY_URL", "http://127.0.0.1:8000")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    marker = _state_dir() / "demo-seeded"
    urls = [f"http://127.0.0.1:{_settings(name).http_port}" for name in SERVICES]
    asyncio.run(simulation.ready(urls))
    day = datetime.now(UTC).date()
    if no_seed:
        typer.echo("no demo seeded (Kafka is not this run's own: `pulih run --demo` seeds it)")
    elif once and marker.exists() and marker.read_text().startswith("done"):
        typer.echo(f"the demo province was seeded before ({marker}); keeping its data")
    else:
        if once and marker.exists():  # an interrupted seeding: the same programme again
            day = date.fromisoformat(marker.read_text().split()[-1])
        if once:
            marker.write_text(f"started {day.isoformat()}\n")
        typer.echo(f"seeding {', '.join(codes)}: {units} units, {clients} people screened each")
        generated, outcomes = asyncio.run(
            simulation.simulate(
                provinces=codes,
                units=units,
                clients=clients,
                seed=seed,
                gateway=gateway,
                bootstrap=bootstrap,
                say=typer.echo,
                via=via,
                faults=faults,
                today=day,
            )
        )
        for code, outcome in zip(codes, outcomes, strict=True):
            typer.echo(f"[{code}] {outcome.summary()}")
        if totals is not None:
            totals.write_text(json.dumps(generated.as_dict(), indent=2) + "\n")
            typer.echo(f"the exact totals of what was generated: {totals}")
        if once:
            marker.write_text(f"done: provinces {province}, seed {seed}, {day.isoformat()}\n")
        if not all(o.answered_as_expected() for o in outcomes):
            typer.echo("some faults were not answered as they should be (see above)")
            raise typer.Exit(1)
    if welcome:
        typer.echo(simulation.welcome(gateway, codes[0], simulation.first_unit(codes[0], seed)))


@infra_app.command("up")
def infra_up(postgres: bool = typer.Option(True, help="Also start PostgreSQL.")) -> None:
    """Start Kafka (and PostgreSQL); print the environment that points at them."""
    broker = _local_kafka()
    broker.start()
    typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}")
    if postgres:
        cluster = _local_postgres()
        cluster.start()
        typer.echo(f"export PULIH_TEST_POSTGRES_URL={cluster.url()}")


@infra_app.command("down")
def infra_down() -> None:
    """Stop what `infra up` started (data stays under the state dir)."""
    for name, part in (("kafka", _local_kafka()), ("postgres", _local_postgres())):
        typer.echo(f"{name}: {'stopped' if part.stop() else 'was not running'}")


@infra_app.command("status")
def infra_status() -> None:
    """Whether the local Kafka and PostgreSQL (`infra up`, `make run`) run, and where."""
    broker, cluster = _local_kafka(), _local_postgres()
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

    db = _service_module(service, "db")
    settings = _settings(service)
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
        url = _settings(name).resolved_database_url
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


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Folder to write into.")] = ROOT / "docs",
) -> None:
    """Write the AsyncAPI 3 document and the events' JSON Schemas into docs/, and the table
    of every setting into the README."""
    from shared.contracts.asyncapi import render
    from shared.settings_doc import with_settings_table

    for path, content in render(out).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    readme = ROOT / "README.md"
    readme.write_text(with_settings_table(readme.read_text()))
    typer.echo(f"wrote {out / 'asyncapi.json'}, {out / 'schemas'}/ and the README's settings")


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


def _add_service_commands() -> None:
    """Each service may bring its own sub-commands in `services/<pkg>/cli.py`."""
    for name, package in SERVICES.items():
        try:
            module = importlib.import_module(f"{package}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.cli":
                raise
            continue
        app.add_typer(module.app, name=name)


_add_service_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
