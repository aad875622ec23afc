"""The client-case service's own database: its tables, never shared with another service."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

from shared.messaging.tables import platform_tables

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()
platform = platform_tables(metadata)
