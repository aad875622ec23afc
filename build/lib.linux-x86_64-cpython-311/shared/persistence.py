"""Async SQLAlchemy 2 for the two databases we support: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Insert, Table, bindparam, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite the file's folder is created and WAL and foreign keys are on."""
    # No submitted value may reach a log line, a span or a dead letter through an SQL error.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":  # (in memory: one connection)
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Each connection is a thread of aiosqlite's: keep enough that a burst of requests
            # reuses them rather than starting (and stopping) a thread and a connection each.
            kwargs.setdefault("pool_size", 20)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_driver_name() == "asyncpg":
        # Batch statements look rows up by lists of ids (`IN (…)`). A generic plan of a
        # prepared statement compares each row with every parameter in turn; a custom plan
        # hashes the list and, on a young table not yet analysed, is ten times faster.
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("server_settings", {}).setdefault(
            "plan_cache_mode", "force_custom_plan"
        )
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements all read the database as it stood at the first of them.
    An answer built from several statements (a latest time, then the month's rows) must not
    mix a batch committed between them. Default isolation sees each commit at the next
    statement: PostgreSQL's read committed takes a snapshot per statement, and Python's
    sqlite3 opens no transaction for a SELECT. Rolled back on leaving (and read only on
    PostgreSQL). Hold it for reads only, not across a wait: on SQLite an open read keeps the
    write-ahead log from being reset, and it grows."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            # A deferred transaction: SQLite's WAL snapshot is taken at the first read.
            await connection.exec_driver_sql("BEGIN")
        yield connection


async def refresh_statistics(engine: AsyncEngine) -> None:
    """Let SQLite's planner know the tables' sizes again (`ANALYZE`: about a second on a
    national read model of a million screenings, milliseconds once its pages are cached).
    Without statistics it takes any index on an equality (`generation = ?`) over a range of
    another, and reads every row of a table to answer for one province; sampled statistics
    (`analysis_limit`) mislead it the same way. PostgreSQL keeps its own (autovacuum)."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_ignoring_duplicates(table: Table, dialect: str) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for either dialect (idempotent inbox writes)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"unsupported database dialect {dialect!r}")


async def update_rows(
    db: AsyncSession, key: Column[Any], rows: Sequence[Mapping[str, Any]]
) -> None:
    """One UPDATE for many rows (executemany): each row names itself by the key column and
    gives its new values by column name."""
    if not rows:
        return
    name = key.name
    columns = [c for c in rows[0] if c != name]
    await db.execute(
        update(key.table)
        .where(key == bindparam("row_key"))
        .values({c: bindparam(f"new_{c}") for c in columns}),
        [{"row_key": r[name], **{f"new_{c}": r[c] for c in columns}} for r in rows],
    )


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
