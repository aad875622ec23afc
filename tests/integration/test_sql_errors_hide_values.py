"""A failing statement's error names no submitted value: SQL errors reach log lines, spans and
dead-letter reasons, and a client-case write would carry a person's data."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from shared.messaging.failures import describe
from shared.persistence import create_engine

metadata = MetaData()
people = Table("people", metadata, Column("nik", String(16), primary_key=True))


async def test_a_constraint_error_carries_no_parameter(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(people).values(nik="7471015508800001"))
        with pytest.raises(IntegrityError) as failed:
            async with engine.begin() as connection:
                await connection.execute(insert(people).values(nik="7471015508800001"))
        error = failed.value
        assert "people" in str(error)  # the statement is named, its parameters hidden
        assert "7471015508800001" not in str(error).split("DETAIL")[0]
        # PostgreSQL's own detail repeats the row; what logs and dead letters say does not.
        assert "7471015508800001" not in describe(error)
        assert "IntegrityError" in describe(error)
    finally:
        await engine.dispose()
