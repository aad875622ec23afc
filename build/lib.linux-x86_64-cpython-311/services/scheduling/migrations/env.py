"""Alembic environment of the scheduling service (version table alembic_version_scheduling)."""

from services.scheduling.db import metadata
from shared.migrations import run_env

run_env(metadata)
