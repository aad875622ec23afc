"""The statements of a batch's transaction: the event ids seen, every fact table's rows, the
refused submissions, the cube changes, and the positions by compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from asyncpg.exceptions import UniqueViolationError  # type: ignore[import-untyped]
from sqlalchemy import Table, and_, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import copying, db
from services.reporting.projector.preparing import Prepared
from services.reporting.upserts import (
    RECORD_CHECKING,
    REJECTION_COLUMNS,
    REJECTIONS_UNNEST,
    merge,
    staging,
)


class PositionsMoved(Exception):
    """Another projector (or a rebuild's switch) moved the positions: reload and seek."""


class Writing:
    """The projector's half that writes a batch (`Projector` is the consumer)."""

    engine: AsyncEngine
    generation: int | None
    positions: dict[TopicPartition, int]
    _postgres: bool
    _statements: dict[Table, Any]
    _unknown: dict[Table, dict[str, None]]
    """SQLite: each fact table's columns, None where a row's facts do not say."""
    _columns: dict[Table, copying.Columns]
    """PostgreSQL: each fact table's columns as `copying.rows` writes them."""
    _merging: set[Table]
    """PostgreSQL: the fact tables whose COPY found a row already there: merged from then on."""

    async def _unseen(self, connection: AsyncConnection, event_ids: list[str]) -> list[str]:
        """SQLite: record the batch's event ids in this generation; return those not applied
        before (in the batch's order): a relay may deliver an event again at a new offset.
        (PostgreSQL: `_record`.)"""
        if not event_ids:
            return []
        e = db.projected_events
        # executemany with RETURNING (SQLAlchemy's "insertmanyvalues": one cached statement,
        # pages within SQLite's limit on parameters). A statement of the batch's rows as
        # VALUES was made and looked up anew for every batch: replay 7,600 -> 10,300 events/s.
        found = await connection.execute(
            sqlite.insert(e).on_conflict_do_nothing().returning(e.c.event_id),
            [{"generation": self.generation, "event_id": i} for i in event_ids],
        )
        new = set(found.scalars())
        return [i for i in event_ids if i in new]

    async def _write_rows(self, connection: AsyncConnection, prepared: Prepared) -> None:
        """SQLite: every fact table's rows, one executemany per table."""
        for table, rows in prepared.batch.rows.items():
            if rows:
                unknown, generation = self._unknown[table], self.generation
                await connection.execute(
                    self._statements[table],
                    [{**unknown, **row, "generation": generation} for row in rows.values()],
                )

    async def _record(self, connection: AsyncConnection, prepared: Prepared) -> set[str]:
        """PostgreSQL: record the batch's event ids in this generation; return those applied
        before (a relay may deliver an event again at a new offset). COPYed as new first,
        under a savepoint: one applied before fails the COPY, and they are recorded one by
        one instead (`upserts.RECORD_CHECKING`)."""
        assert self.generation is not None
        ids = list(prepared.events)
        try:
            async with connection.begin_nested():
                await self._copy_to(
                    connection,
                    "projected_events",
                    copying.ids(ids, self.generation),
                    ("generation", "event_id"),
                )
            return set()
        except UniqueViolationError:
            found = await connection.execute(
                RECORD_CHECKING, {"generation": self.generation, "ids": ids}
            )
            new = set(found.scalars())
            return {i for i in ids if i not in new}

    async def _copy_rows(self, connection: AsyncConnection, prepared: Prepared) -> None:
        """PostgreSQL: every fact table's rows by binary COPY (`copying`, encoded in C), as
        new rows first, under a savepoint. A row already in the read model fails its table's
        COPY, and from then on that table's rows are COPYed to a temporary table and merged
        from there (`upserts.merge`). In a replay most tables' rows are each written once.

        In the benchmark's replay PostgreSQL used 17 to 20 µs of CPU an event this way,
        against 28 to 33 µs for one statement a batch of JSON rows (`json_to_recordset …
        ON CONFLICT`), and the projector no more (docs/benchmarks.md)."""
        assert self.generation is not None
        for table, rows in prepared.batch.rows.items():
            if not rows:
                continue
            columns = self._columns[table]
            names = [name for name, _ in columns]
            data = copying.rows(rows.values(), columns, self.generation)
            if table not in self._merging:
                try:
                    async with connection.begin_nested():
                        await self._copy_to(connection, table.name, data, names)
                    continue
                except UniqueViolationError:
                    self._merging.add(table)
            staged, make = staging(table)
            await connection.exec_driver_sql(make)
            await self._copy_to(connection, staged, data, names)
            await connection.exec_driver_sql(merge(table, staged))

    @staticmethod
    async def _copy_to(
        connection: AsyncConnection, table: str, data: bytes, columns: Sequence[str]
    ) -> None:
        """Binary COPY `data` into `table`, through asyncpg (SQLAlchemy has no COPY)."""
        driver = (await connection.get_raw_connection()).driver_connection
        # A memoryview: asyncpg takes bytes for a file's path.
        await driver.copy_to_table(  # type: ignore[union-attr]
            table, source=memoryview(data), columns=list(columns), format="binary"
        )

    async def _write_rejections(
        self, connection: AsyncConnection, rows: list[dict[str, Any]]
    ) -> None:
        """The batch's refused submissions in one statement; one already counted (a receipt
        delivered again, the same message refused again) stays as it was."""
        if not rows:
            return
        if self.engine.dialect.name == "postgresql":
            await connection.execute(
                REJECTIONS_UNNEST,
                {
                    "generation": self.generation,
                    **{c: [r[c] for r in rows] for c in REJECTION_COLUMNS},
                },
            )
            return
        await connection.execute(
            sqlite.insert(db.rejections).on_conflict_do_nothing(),
            [{**r, "generation": self.generation} for r in rows],
        )

    async def _mark_changes(
        self, connection: AsyncConnection, touched: set[tuple[str, int]]
    ) -> None:
        """Bump the version of every (province, year) the batch touched, in its transaction,
        so every replica's background suppression recomputes those cubes and only those."""
        if not touched:
            return
        now = datetime.now(UTC)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(db.cube_changes)
        c = db.cube_changes.c
        # In key order: two replicas bumping the same rows lock them in the same order.
        rows = [
            {
                "generation": self.generation,
                "province_code": p,
                "year": y,
                "version": 1,
                "changed_at": now,
            }
            for p, y in sorted(touched)
        ]
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[c.generation, c.province_code, c.year],
                set_={"version": c.version + 1, "changed_at": statement.excluded.changed_at},
            ),
            rows,
        )

    async def _advance(
        self, connection: AsyncConnection, reached: dict[TopicPartition, int]
    ) -> None:
        """Compare-and-set each partition's position: fails when someone else moved it."""
        p = db.positions.c
        for tp, next_offset in reached.items():
            expected = self.positions.get(tp)
            if expected is None:
                try:
                    async with connection.begin_nested():
                        await connection.execute(
                            insert(db.positions).values(
                                generation=self.generation,
                                topic=tp.topic,
                                partition=tp.partition,
                                next_offset=next_offset,
                            )
                        )
                except IntegrityError:
                    raise PositionsMoved from None
                continue
            moved = await connection.execute(
                update(db.positions)
                .where(
                    and_(
                        p.generation == self.generation,
                        p.topic == tp.topic,
                        p.partition == tp.partition,
                        p.next_offset == expected,
                    )
                )
                .values(next_offset=next_offset)
            )
            if moved.rowcount != 1:
                raise PositionsMoved
