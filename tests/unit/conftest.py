"""Unit tests run without Kafka or PostgreSQL. A service's handlers are tested on a SQLite
file with the service's own migrations applied: each service's history is run once per test
run into a template, and every test gets its own copy of it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.migrations import upgrade
from shared.persistence import create_engine

Migrated = Callable[[str, Path], AsyncEngine]
"""(service name, its migrations folder) → an engine on a fresh, migrated database."""


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, Path], Path]]:
    made: dict[str, Path] = {}
    # Alembic runs its own event loop (asyncio.run): in a thread, away from the tests' loop.
    with ThreadPoolExecutor(max_workers=1) as thread:

        def template(service: str, migrations: Path) -> Path:
            if service not in made:
                path = tmp_path_factory.mktemp("migrated") / f"{service}.db"
                url = f"sqlite+aiosqlite:///{path}"
                thread.submit(upgrade, migrations, url, service).result()
                made[service] = path
            return made[service]

        yield template


@pytest.fixture
async def migrated(
    tmp_path: Path, _templates: Callable[[str, Path], Path]
) -> AsyncIterator[Migrated]:
    engines: list[AsyncEngine] = []

    def database(service: str, migrations: Path) -> AsyncEngine:
        path = tmp_path / f"{service}.db"
        shutil.copyfile(_templates(service, migrations), path)
        engines.append(create_engine(f"sqlite+aiosqlite:///{path}"))
        return engines[-1]

    yield database
    for engine in engines:
        await engine.dispose()
