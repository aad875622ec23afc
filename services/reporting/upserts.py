"""The projector's statements: one multi-row upsert per fact table (SQLite), or every fact table
of a batch and the event ids it records in one statement (PostgreSQL: each table's rows as
one JSON parameter); the rejections' insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

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


def recordset_upsert(table: Table, where: str = "") -> str:
    """PostgreSQL: the whole batch of one table in one statement, `INSERT … SELECT FROM
    json_to_recordset(…) ON CONFLICT … DO UPDATE`: the rows arrive as one JSON array of
    objects, parameter `<table>__rows` (encoded in C, `projector.preparing`: asyncpg's
    encoding of a column array per column cost the projector 3 µs a row, PostgreSQL parses
    the JSON in about 1.5), with the `generation` they go to."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    keys = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    shape = ", ".join(
        f'"{c.name}" {c.type.compile(dialect=dialect)}'
        for c in table.columns
        if c.name != "generation"
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
        f"SELECT CAST(:generation AS INTEGER), r.* "
        f"FROM json_to_recordset(CAST(:{table.name}__rows AS JSON)) AS r({shape}){where} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(changes)}"
    )


Recording = Literal["no", "new", "checked"]
"""How a batch statement records the batch's event ids: not at all (folded again after a
redelivery, the ids already recorded), as ids never applied before, or checking."""


def upserts(tables: Sequence[Table], *, recording: Recording) -> TextClause:
    """PostgreSQL: the upserts of every fact table a batch touches as one statement (each a
    data-modifying `WITH` part, each table once): one round trip instead of one per table.

    The same statement records the batch's event ids (`:ids`) in the generation. `"new"`
    inserts them as ids never applied before: one applied before breaks the ids' unique key
    and fails the whole statement, and the caller, which ran it under a savepoint, runs the
    `"checked"` one instead. That one inserts the ids `ON CONFLICT DO NOTHING` and upserts
    only if none of them had been applied before; it returns those that had, and the batch is
    folded again without them. A plain insert of 5,000 ids took 20 to 24 ms, with `ON CONFLICT`
    30 to 36 ms (EXPLAIN ANALYZE, the 21st batch of the benchmark's replay), and a relay
    delivers an event again rarely."""
    if recording == "no":
        parts = ", ".join(f"upsert_{t.name} AS ({recordset_upsert(t)})" for t in tables)
        return text(f"WITH {parts} SELECT 1")
    if recording == "new":
        parts = ", ".join(
            [
                "new AS (INSERT INTO projected_events (generation, event_id) "
                "SELECT :generation, unnest(CAST(:ids AS VARCHAR[])))",
                *(f"upsert_{t.name} AS ({recordset_upsert(t)})" for t in tables),
            ]
        )
        return text(f"WITH {parts} SELECT 1")
    parts = ", ".join(
        [
            "new AS (INSERT INTO projected_events (generation, event_id) "
            "SELECT :generation, unnest(CAST(:ids AS VARCHAR[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id)",
            _COUNTED,
            *(f"upsert_{t.name} AS ({recordset_upsert(t, _ALL_NEW)})" for t in tables),
        ]
    )
    # The ids seen before are looked for only when some were: counting the new ones is
    # cheaper than taking the batch's ids apart from them (the batch's ids are distinct).
    return text(f"WITH {parts} {_SEEN}")


_COUNTED = "counted AS (SELECT count(*) = cardinality(CAST(:ids AS VARCHAR[])) AS all_new FROM new)"
"""Whether every id of the batch is new, counted once (counted in each table's part, the
5,000 ids were scanned once a table)."""
_ALL_NEW = " WHERE (SELECT all_new FROM counted)"
_SEEN = (
    "SELECT CASE WHEN (SELECT all_new FROM counted) "
    "THEN CAST(ARRAY[] AS VARCHAR[]) "
    "ELSE ARRAY(SELECT unnest(CAST(:ids AS VARCHAR[])) EXCEPT SELECT event_id FROM new) END"
)

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
