"""Migrations as a deployment runs them: every replica's init container runs `pulih db upgrade`
at once, and an index on a large table is built while the service keeps writing."""

from __future__ import annotations

import asyncio
import os
import sys

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from shared.migrations import create_index_concurrently
from shared.persistence import create_engine
from tests.processes import ROOT


async def _upgrade(url: str, service: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "db",
        "upgrade",
        service,
        cwd=ROOT,
        env={**os.environ, "PULIH_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def _index_valid(url: str, name: str) -> bool | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            valid: bool | None = await connection.scalar(
                text(
                    "SELECT i.indisvalid FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
                ),
                {"name": name},
            )
            return valid
    finally:
        await engine.dispose()


async def test_replicas_upgrading_at_once_take_turns_and_all_succeed(postgres_url: str) -> None:
    done = await asyncio.gather(*(_upgrade(postgres_url, "scheduling") for _ in range(3)))

    for code, output in done:
        assert code == 0, output
        assert "scheduling: database at head" in output
    # Built concurrently, outside the migration's transaction, and usable.
    assert await _index_valid(postgres_url, "ix_sessions_state_due_on") is True


async def test_an_index_left_invalid_by_an_interrupted_build_is_built_again(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TABLE things (kind VARCHAR)"))
            await connection.execute(text("INSERT INTO things VALUES ('a'), ('a')"))
            try:  # fails on the duplicate and leaves the index behind, invalid
                await connection.execute(
                    text("CREATE UNIQUE INDEX CONCURRENTLY ix_things_kind ON things (kind)")
                )
            except Exception:  # noqa: S110 - the failure is the point
                pass
        assert await _index_valid(postgres_url, "ix_things_kind") is False

        def migrate(sync: Connection) -> None:
            migration = MigrationContext.configure(sync)
            with Operations.context(migration), migration.begin_transaction():
                create_index_concurrently("ix_things_kind", "things", ["kind"])

        async with engine.connect() as connection:
            await connection.run_sync(migrate)
    finally:
        await engine.dispose()

    assert await _index_valid(postgres_url, "ix_things_kind") is True
