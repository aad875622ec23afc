"""`pulih reporting …`: rebuilding the read model."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(help="Indicators and their read model.", no_args_is_help=True)


@app.command("rebuild")
def rebuild(
    workers: Annotated[
        int, typer.Option(min=1, max=32, help="Processes sharing the partitions (PostgreSQL).")
    ] = 1,
) -> None:
    """Replay the canonical topics (and the provinces' receipts topics) from the start into a
    fresh read model and switch to it atomically; the service keeps serving the current one
    meanwhile."""
    from services.reporting import rebuild as rebuilding
    from services.reporting.app import CANONICAL, receipts_topics
    from services.reporting.db import MIGRATIONS
    from services.reporting.settings import SERVICE_NAME, Settings
    from shared.messaging.broker import Topics
    from shared.migrations import upgrade
    from shared.persistence import create_engine

    settings = Settings()
    topics = Topics(settings.topic_prefix)

    async def run() -> rebuilding.Rebuilt:
        await asyncio.to_thread(upgrade, MIGRATIONS, settings.resolved_database_url, SERVICE_NAME)
        engine = create_engine(settings.resolved_database_url)
        try:
            return await rebuilding.rebuild(
                engine,
                settings.kafka_bootstrap_servers,
                [topics.name(t) for t in CANONICAL] + list(receipts_topics(topics, settings)),
                dead_letter_topic=topics.dead_letter(SERVICE_NAME),
                auth=settings.kafka_auth,
                batch_size=settings.projection_batch_size,
                workers=workers,
            )
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    typer.echo(
        f"read model generation {done.generation} (was {done.previous}): "
        f"{done.events} events in {done.seconds:.1f}s"
    )
