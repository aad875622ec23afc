"""One Alembic history per service, each with its own version table.

A service's `migrations/env.py` calls `run_env(metadata, service)`; code and the CLI call
`upgrade(service_dir, url, service)`. Alembic runs on the async engine through `run_sync`,
and owns the migrations' transactions, one per revision (its version with it), so that a
revision may step out of its own (`create_index_concurrently`).

On PostgreSQL one upgrade runs at a time per database: every replica's init container runs
`pulih db upgrade` when a deployment starts, and the others wait for the first (an advisory
lock on the upgrade's connection) and then find the database at head, instead of failing on
a table the first is creating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from shared.persistence import create_engine

log = logging.getLogger(__name__)

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
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            _take_turn(connection)
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                version_table=version_table(service),
                render_as_batch=True,
                compare_type=True,
                # Each revision commits with its version: one that steps out of its
                # transaction (`create_index_concurrently`) commits only its own work so far.
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                connection.rollback()
                # A broken connection ends its session, and its lock with it: keep the error
                # that broke it.
                with contextlib.suppress(DBAPIError):
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK}
                    )
                    connection.commit()

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())


UPGRADE_LOCK = 0x70756C6968  # "pulih"
"""PostgreSQL: the advisory lock an upgrade holds, whichever service's."""

TURN_POLL_SECONDS = 0.5


def _take_turn(connection: Connection) -> None:
    """Wait for the upgrade lock (held by the session, released when it ends), asking again
    every `TURN_POLL_SECONDS` with no transaction open in between. Not `pg_advisory_lock`:
    while its statement waits it holds a snapshot, and the upgrade holding the lock may be
    building an index concurrently, which waits for every older snapshot: a deadlock."""
    told = waited = 0.0
    while True:
        taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": UPGRADE_LOCK})
        # No transaction left open: Alembic then owns its own (a connection already in one
        # is taken as the caller's, and `autocommit_block` refuses to run in it).
        connection.commit()
        if taken:
            return
        if waited >= told:  # at once, then every minute: an init container seen waiting
            log.warning(
                "another upgrade of this database is under way: waiting for its end (%.0f s)",
                waited,
            )
            told = waited + 60
        time.sleep(TURN_POLL_SECONDS)
        waited += TURN_POLL_SECONDS


def create_index_concurrently(name: str, table: str, columns: list[str]) -> None:
    """In a migration: create an index without holding writes to `table` off while it is built
    (PostgreSQL's `CREATE INDEX CONCURRENTLY`, outside the migration's transaction; a sessions
    table of national size takes minutes). An index left invalid by an interrupted attempt is
    dropped and built again; one already there is kept. SQLite: a plain `CREATE INDEX`.

    What the revision did before it is committed first: make it the revision's only or last
    step, so that a revision interrupted here is run again from a state it can run on."""
    migration = op.get_context()
    if migration.dialect.name != "postgresql":
        op.create_index(name, table, columns)
        return
    with migration.autocommit_block():
        valid = op.get_bind().scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name AND pg_table_is_visible(c.oid)"
            ),
            {"name": name},
        )
        if valid is False:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
        if not valid:
            op.create_index(name, table, columns, postgresql_concurrently=True)
