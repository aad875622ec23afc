"""Alembic environment of the client-case service (version table alembic_version_client_case)."""

from services.client_case.db import metadata
from shared.migrations import run_env

run_env(metadata)
