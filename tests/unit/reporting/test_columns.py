"""Which villages a region holds, as each database is asked it."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from services.reporting.indicators.columns import inside

facts = Table("facts", MetaData(), Column("village_code", String(13), index=True))

CODES = ["33", "33.01", "33.01.02.2001", "33.74.01.1001", "34.01.01.2001", "330", "3", "32.99"]


def _asked(within: str) -> list[str]:
    query = select(facts.c.village_code).where(inside(facts.c.village_code, within))
    compiled = query.compile(dialect=sqlite.dialect())
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE TABLE facts (village_code VARCHAR(13))")
        connection.execute("CREATE INDEX ix_facts_village_code ON facts (village_code)")
        connection.executemany("INSERT INTO facts VALUES (?)", [(c,) for c in CODES])
        positional = [compiled.params[name] for name in compiled.positiontup or ()]
        rows = connection.execute(str(compiled), positional).fetchall()
    return sorted(code for (code,) in rows)


def test_a_region_holds_itself_and_every_code_below_it_in_sqlite() -> None:
    assert _asked("33") == ["33", "33.01", "33.01.02.2001", "33.74.01.1001"]
    assert _asked("33.01") == ["33.01", "33.01.02.2001"]
    assert _asked("33.01.02.2001") == ["33.01.02.2001"]
    assert _asked("35") == []


def test_sqlite_reads_a_region_as_a_range_of_the_index_and_postgresql_as_a_prefix() -> None:
    query = select(facts.c.village_code).where(
        inside(facts.c.village_code, "33"), facts.c.village_code.is_not(None)
    )
    lite = str(query.compile(dialect=sqlite.dialect()))
    assert "LIKE" not in lite and "facts.village_code >=" in lite
    # Grouped as one condition among the others, not "a AND b OR c".
    assert "(facts.village_code = ? OR facts.village_code >= ?" in lite
    # A database's collation may order "." and "/" otherwise: PostgreSQL keeps LIKE.
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    assert "LIKE" in str(query.compile(dialect=pg))
