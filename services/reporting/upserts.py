"""The projector's statements: one multi-row upsert per fact table (SQLite); on PostgreSQL, the
merge of a batch's rows COPYed to a temporary table, and the event ids recorded one by one
when their COPY found one applied before; the rejections' insert."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, text
from sqlalchemy.dialects import sqlite

LINEAGE = ("events", "last_event_at", "last_received_at")
"""Columns that add up (events) or keep the latest (the others) rather than overwrite."""


def sqlite_upsert(table: Table) -> Any:
    """SQLite: INSERT … ON CONFLICT (key) DO UPDATE, one row per parameter set: known columns
    overwrite, unknown (NULL) keep what is there, lineage adds up."""
    keys = [c.name for c in table.primary_key.columns]
    statement = sqlite.insert(table)
    new = statement.excluded
    changes: dict[str, Any] = {
        c.name: func.coalesce(new[c.name], c)
        for c in table.columns
        if c.name not in keys and c.name not in LINEAGE
    }
    changes["events"] = table.c.events + new.events
    for latest in LINEAGE[1:]:  # SQLite's max() of a NULL is NULL
        old = table.c[latest]
        changes[latest] = func.max(func.coalesce(old, new[latest]), new[latest])
    return statement.on_conflict_do_update(index_elements=keys, set_=changes)


def merge(table: Table, staged: str) -> str:
    """PostgreSQL: `INSERT … SELECT` every row of the temporary table `staged` (a batch's
    rows of `table`, COPYed there) `ON CONFLICT … DO UPDATE`: known columns overwrite,
    unknown (NULL) keep what is there, lineage adds up."""
    keys = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    changes = [
        f'"{c}" = COALESCE(EXCLUDED."{c}", t."{c}")'
        for c in columns
        if c not in keys and c not in LINEAGE
    ]
    changes += ['"events" = t."events" + EXCLUDED."events"']
    changes += [f'"{c}" = GREATEST(t."{c}", EXCLUDED."{c}")' for c in LINEAGE[1:]]
    quoted = ", ".join(f'"{c}"' for c in columns)
    conflict = ", ".join(f'"{k}"' for k in keys)
    # Names come from our own table definitions, never from input.
    return (
        f'INSERT INTO "{table.name}" AS t ({quoted}) SELECT {quoted} FROM "{staged}" '  # noqa: S608
        f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(changes)}"
    )


def staging(table: Table) -> tuple[str, str]:
    """PostgreSQL: the name of the temporary table a batch's rows of `table` are COPYed to
    before `merge`, and the statement making it (the session's, emptied at each commit)."""
    name = f"staged_{table.name}"
    return name, (
        f'CREATE TEMPORARY TABLE IF NOT EXISTS "{name}" (LIKE "{table.name}") ON COMMIT DELETE ROWS'
    )


RECORD_CHECKING = text(
    "INSERT INTO projected_events (generation, event_id) "
    "SELECT CAST(:generation AS INTEGER), unnest(CAST(:ids AS VARCHAR[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
"""PostgreSQL: a batch's event ids recorded one by one, returning those not applied before:
taken when their COPY found one that was (a relay's redelivery)."""

REJECTION_COLUMNS = ("province_code", "original_event_id", "original_type", "month", "rejected_at")
REJECTIONS_UNNEST = text(
    "INSERT INTO rejections (generation, province_code, original_event_id, original_type, "
    "month, rejected_at) "
    "SELECT CAST(:generation AS INTEGER), * FROM unnest(CAST(:province_code AS VARCHAR[]), "
    "CAST(:original_event_id AS VARCHAR[]), CAST(:original_type AS VARCHAR[]), "
    "CAST(:month AS VARCHAR[]), CAST(:rejected_at AS TIMESTAMPTZ[])) "
    "ON CONFLICT DO NOTHING"
)
"""PostgreSQL: a batch's refused submissions as column arrays, one statement."""


def keys_of(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns if c.name != "generation"]
