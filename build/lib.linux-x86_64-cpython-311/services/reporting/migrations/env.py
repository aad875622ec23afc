"""Alembic environment of the reporting service (version table alembic_version_reporting)."""

from services.reporting.db import metadata
from shared.migrations import run_env

run_env(metadata)
