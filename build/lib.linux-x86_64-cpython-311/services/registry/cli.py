"""`pulih registry …`: the registry's own commands."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(help="Regions, units IBM and recovery agents.", no_args_is_help=True)


@app.command("load-regions")
def load_regions_command(
    province: Annotated[
        list[str] | None, typer.Option(help="Only these provinces (repeatable).")
    ] = None,
) -> None:
    """Load (or refresh) the official region tree and the BNN offices. Idempotent."""
    from services.registry.db import MIGRATIONS
    from services.registry.regions import RegionSource, load_regions
    from services.registry.settings import Settings
    from shared.migrations import upgrade
    from shared.persistence import create_engine

    settings = Settings()
    upgrade(MIGRATIONS, settings.resolved_database_url, settings.service_name)

    async def run() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            report = await load_regions(
                engine,
                RegionSource.installed(),
                provinces=set(province) if province else None,
                bnnk_regencies=settings.bnnk,
            )
        finally:
            await engine.dispose()
        counts = ", ".join(f"{n:,} {level}" for level, n in report.counts.items())
        typer.echo(f"{report.edition}: {counts}; {report.offices} offices in {report.seconds:.1f}s")

    asyncio.run(run())


@app.command("rewrap-keys")
def rewrap_keys() -> None:
    """Master key rotation: re-wrap the data key of every agent's display name under
    PULIH_CURRENT_MASTER_KEY (PULIH_MASTER_KEYS must still hold the old masters)."""
    from services.registry.db import agents
    from services.registry.settings import Settings
    from shared.security.rotation import rewrap_in_database

    settings = Settings()
    done = asyncio.run(
        rewrap_in_database(
            settings.resolved_database_url, agents, agents.c.agent_id, settings.key_ring
        )
    )
    typer.echo(done.summary(settings.current_master_key))
