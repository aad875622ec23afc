"""The projector's statements: one multi-row upsert per fact table (SQLite), or every fact table
of a batch and the event ids it records in one statement of `unnest`s (PostgreSQL); the
rejections' insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, TextClause, func, text
from sqlalchemy.dialects import postgresql, sqlite

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


def unnest_upsert(table: Table, where: str = "") -> str:
    """PostgreSQL: the whole batch of one table as column arrays in one statement, `INSERT …
    SELECT * FROM unnest(…) ON CONFLICT … DO UPDATE` (several times faster than many rows).
    Its parameters are named `<table>__<column>`."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    keys = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    arrays = ", ".join(
        f"CAST(:{table.name}__{c.name} AS {c.type.compile(dialect=dialect)}[])"
        for c in table.columns
    )
    changes = [
        f'"{c}" = COALESCE(EXCLUDED."{c}", t."{c}")'
        for c in columns
        if c not in keys and c not in LINEAGE
    ]
    changes += ['"events" = t."events" + EXCLUDED."events"']
    changes += [f'"{c}" = GREATEST(t."{c}", EXCLUDED."{c}")' for c in LINEAGE[1:]]
    quoted = ", ".join(f'"{c}"' for c in columns)
    conflict = ", ".join(f'"{k}"' for k in keys)
    # Names and types come from our own table definitions, never from input.
    return (
        f'INSERT INTO "{table.name}" AS t ({quoted}) '  # noqa: S608
        f"SELECT * FROM unnest({arrays}){where} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(changes)}"
    )


def upserts(tables: Sequence[Table], *, recording: bool) -> TextClause:
    """PostgreSQL: the upserts of every fact table a batch touches as one statement (each a
    data-modifying `WITH` part, each table once): one round trip instead of one per table.
    `recording`: the same statement first records the batch's event ids (`:ids`) in the
    generation and upserts only if none of them had been applied before; it returns those
    that had (almost always none), and the batch is folded again without them."""
    if not recording:
        parts = ", ".join(f"upsert_{t.name} AS ({unnest_upsert(t)})" for t in tables)
        return text(f"WITH {parts} SELECT 1")
    guard = " WHERE cardinality((SELECT ids FROM seen)) = 0"
    parts = ", ".join(
        [
            "new AS (INSERT INTO projected_events (generation, event_id) "
            "SELECT :generation, unnest(CAST(:ids AS VARCHAR[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id)",
            "seen AS (SELECT ARRAY(SELECT unnest(CAST(:ids AS VARCHAR[])) "
            "EXCEPT SELECT event_id FROM new) AS ids)",
            *(f"upsert_{t.name} AS ({unnest_upsert(t, guard)})" for t in tables),
        ]
    )
    return text(f"WITH {parts} SELECT ids FROM seen")  # noqa: S608 - our own table names


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
