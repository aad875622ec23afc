"""The `integration` marker (pyproject.toml) on every test that needs the real broker or
databases, so `pytest -m "not integration"` runs only what needs neither. Each folder's
conftest marks its own tests: every test of integration, e2e and browser; elsewhere only those
asking for a broker or a PostgreSQL fixture (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

NEEDS_INFRASTRUCTURE = frozenset(
    {"kafka_bootstrap", "postgres_server_url", "postgres_url", "database_url"}
)
"""The root conftest's fixtures that start (or find) Kafka or PostgreSQL."""


def mark_integration(items: list[pytest.Item], folder: Path, *, every: bool = True) -> None:
    """Mark the items collected under `folder`: all of them, or (`every=False`) those whose
    fixtures need the broker or PostgreSQL. A conftest's collection hook sees the whole run's
    items, hence the folder."""
    for item in items:
        if not item.path.is_relative_to(folder):
            continue
        if every or NEEDS_INFRASTRUCTURE & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
