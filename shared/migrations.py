"""One Alembic history per service, each with its own version table.

A service's `migrations/env.py` calls `run_env(metadata, service)`; code and the CLI call
`upgrade(service_dir, url, service)`. Alembic runs on the async engine through `run_sync`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.persistence import create_engine

_ONE_AT_A_TIME = threading.Lock()


def version_table(service: str) -> str:
    return f"alembic_version_{service.replace('-', '_')}"


def alembic_config(migrations_dir: Path, url: str, service: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["service"] = service
    return config


def upgrade(migrations_dir: Path, url: str, service: str, revision: str = "head") -> None:
    """Bring the service's database to `revision`. Runs its own event loop: call it from a
    thread (`asyncio.to_thread`) when a loop is already running."""
    # Alembic's `op` and `context` are process-wide proxies: one migration at a time, even
    # when several services start in one process (`pulih run`).
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(migrations_dir, url, service), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's env.py."""
    config = context.config
    service = config.attributes["service"]
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table(service),
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())
