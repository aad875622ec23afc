"""Migrations as a deployment runs them: every replica's init container runs `pulih db upgrade`
at once, and an index on a large table is built while the service keeps writing."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from shared.migrations import UPGRADE_LOCK, create_index_concurrently
from shared.persistence import create_engine
from tests.processes import ROOT


async def _upgrade(url: str, service: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
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
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    replicas: list[asyncio.subprocess.Process] = []
    try:
        async with engine.connect() as holder:  # an upgrade already under way
            await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": UPGRADE_LOCK})
            replicas = [await _upgrade(postgres_url, "scheduling") for _ in range(3)]
            for replica in replicas:  # each asked for its turn and was told to wait
                assert replica.stdout is not None
                line = await asyncio.wait_for(replica.stdout.readline(), 60)
                assert b"another upgrade of this database is under way" in line, line
            await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": UPGRADE_LOCK})
            outputs = [
                (await asyncio.wait_for(r.communicate(), 120))[0].decode(errors="replace")
                for r in replicas
            ]
    finally:
        for replica in replicas:  # none left migrating behind a failed test
            if replica.returncode is None:
                replica.kill()
                await replica.wait()
        await engine.dispose()

    for replica, output in zip(replicas, outputs, strict=True):
        assert replica.returncode == 0, output
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
            with pytest.raises(IntegrityError):  # on the duplicate: the index is left, invalid
                await connection.execute(
                    text("CREATE UNIQUE INDEX CONCURRENTLY ix_things_kind ON things (kind)")
                )
        assert await _index_valid(postgres_url, "ix_things_kind") is False

    finally:
        await engine.dispose()

    def migrate(sync: Connection) -> None:
        migration = MigrationContext.configure(sync)
        with Operations.context(migration), migration.begin_transaction():
            create_index_concurrently("ix_things_kind", "things", ["kind"])

    migrating = create_engine(postgres_url)  # in a transaction, as a migration runs
    try:
        async with migrating.connect() as connection:
            await connection.run_sync(migrate)
        assert await _index_valid(postgres_url, "ix_things_kind") is True
        async with migrating.connect() as connection:  # again: the valid one is kept
            await connection.run_sync(migrate)
    finally:
        await migrating.dispose()

    assert await _index_valid(postgres_url, "ix_things_kind") is True
