"""Running the platform: one service, all five with a demo province, the simulator, the docs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from shared.cli.common import (
    ROOT,
    SERVICES,
    ServiceArg,
    app,
    local_kafka,
    service_module,
    service_settings,
    state_dir,
)
from shared.infra._process import exit_with_parent
from shared.regions import PROVINCE_CODES


@app.command()
def serve(service: ServiceArg) -> None:
    """Run one service: HTTP API, outbox relay and consumers, until SIGTERM."""
    from shared.heap import few_arenas, started

    if service == "reporting":  # measured on its cubes' peaks (docs/benchmarks.md) only
        few_arenas()  # before the threads below start
    import uvicorn

    from shared.telemetry import setup_logging, setup_tracing

    settings = service_settings(service)
    setup_logging(settings.service_name, settings.log_level)
    if sys.stderr.isatty() and settings.environment != "production":
        _readable_logs()
    setup_tracing(settings.service_name, settings)
    application = service_module(service, "app").build(settings)
    started()  # nothing made so far is garbage: full collections skip it
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
        broker = local_kafka()
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
            settings = service_settings(name)
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
        gateway = f"http://127.0.0.1:{service_settings('gateway').http_port}"
        seeding = broker is not None if demo is None else demo  # not someone else's Kafka
        seed = ["--once"] if seeding else ["--no-seed"]
        seeder = subprocess.Popen(  # seeds the demo province once, then prints the welcome
            [
                *(sys.executable, "-m", "shared.cli", "simulate", "--demo", *seed),
                *("--welcome", "--totals", str(state_dir() / "demo-totals.json")),
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


@app.command()
def simulate(
    demo: Annotated[bool, typer.Option(help="The demo: a year of province 74, seed 2026.")] = False,
    province: Annotated[
        str,
        typer.Option(help="2-digit province code(s), comma-separated, or all: published at once."),
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
    scale: Annotated[
        float | None,
        typer.Option(
            help="Size each province by its villages, at this share of national size (1: a "
            "unit in every village, 12 people screened a village, 10^6 across the 38 "
            "provinces): replaces --units and --clients. `--province all --scale 1` is the "
            "national run."
        ),
    ] = None,
    at_once: Annotated[
        int | None,
        typer.Option(help="Provinces published at a time (all of them; 2 with --scale)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            help="Then compare each province's figures at the gateway with the exact ones "
            "generated, once reporting has taken everything in; exit 1 if any differs."
        ),
    ] = False,
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
    marker = state_dir() / "demo-seeded"
    urls = [f"http://127.0.0.1:{service_settings(name).http_port}" for name in SERVICES]
    asyncio.run(simulation.ready(urls))
    if codes == ["all"]:
        codes = list(PROVINCE_CODES)
    if scale is not None:
        if not 0 < scale <= 1:
            raise typer.BadParameter("a share of national size, above 0 and at most 1")
        at_once = at_once or 2
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
        if scale is None:
            typer.echo(f"seeding {', '.join(codes)}: {units} units, {clients} people screened each")
        else:
            typer.echo(f"seeding {len(codes)} province(s) at {scale:g} of national size")
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
                scale=scale,
                at_once=at_once,
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
        if check and not asyncio.run(
            simulation.figures_agree(
                provinces=codes,
                totals=generated,
                gateway=gateway,
                bootstrap=bootstrap,
                say=typer.echo,
            )
        ):
            typer.echo("some figures differ from the exact ones (see above)")
            raise typer.Exit(1)
    if welcome:
        typer.echo(simulation.welcome(gateway, codes[0], simulation.first_unit(codes[0], seed)))


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
