"""Alembic environment of the registry service (version table alembic_version_registry)."""

from services.registry.db import metadata
from shared.migrations import run_env

run_env(metadata)
