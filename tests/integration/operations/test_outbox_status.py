"""`pulih outbox status`: what an operator sees of each service's outbox, on SQLite under the
state dir (development) and on a service's PostgreSQL given PULIH_DATABASE_URL (its pod)."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine.url import make_url
from typer.testing import CliRunner

from services.scheduling.db import MIGRATIONS, platform
from shared.cli import app
from shared.migrations import upgrade
from shared.persistence import create_engine


async def _stage(url: str, *, waiting_since: list[timedelta], sent: int) -> None:
    """Outbox rows as the relay would find them: some waiting for that long, some sent."""
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "scheduling")
    now = datetime.now(UTC)
    rows = [{"created_at": now - age, "sent_at": None} for age in waiting_since] + [
        {"created_at": now - timedelta(days=3), "sent_at": now} for _ in range(sent)
    ]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(platform.outbox),
                [
                    {
                        "event_id": uuid.uuid4().hex,
                        "topic": "ibm.scheduling",
                        "key": b"case",
                        "headers": [],
                        "value": b"{}",
                        **row,
                    }
                    for row in rows
                ],
            )
    finally:
        await engine.dispose()


def _env(**values: str | None) -> dict[str, str | None]:
    cleared: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("PULIH_DATABASE_URL")
    }
    return {**cleared, **values}


async def test_a_services_database_shows_its_backlog_and_oldest_age(database_url: str) -> None:
    await _stage(database_url, waiting_since=[timedelta(hours=2), timedelta(minutes=1)], sent=3)

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["outbox", "status", "scheduling"],
        env=_env(PULIH_DATABASE_URL=database_url),
    )

    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("scheduling"))
    assert line.split()[1:3] == ["2", "2.0h"], line
    password = make_url(database_url).password
    assert not password or str(password) not in result.output


async def test_development_reads_every_service_under_the_state_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    await _stage(
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'scheduling.db'}", waiting_since=[], sent=1
    )

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["outbox", "status"],
        env=_env(PULIH_STATE_DIR=str(tmp_path)),
    )

    assert result.exit_code == 0, result.output
    lines = {x.split()[0]: x for x in result.output.splitlines()[1:]}
    assert set(lines) == {"registry", "client-case", "scheduling", "reporting"}
    assert lines["scheduling"].split()[1:3] == ["0", "-"]
    assert "no database yet" in lines["registry"]


async def test_one_database_url_needs_one_service_named() -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["outbox", "status"],
        env=_env(PULIH_DATABASE_URL="postgresql+asyncpg://pulih:secret@127.0.0.1:1/scheduling"),
    )
    assert result.exit_code == 2 and "name that service" in result.output


async def test_an_unreachable_database_fails_without_showing_its_password() -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["outbox", "status", "scheduling"],
        env=_env(PULIH_DATABASE_URL="postgresql+asyncpg://pulih:secret@127.0.0.1:1/scheduling"),
    )
    assert result.exit_code == 1
    assert "cannot read" in result.output and "secret" not in result.output
