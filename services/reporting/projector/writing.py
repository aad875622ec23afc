"""The statements of a batch's transaction: the event ids seen, every fact table's rows, the
refused submissions, the cube changes, and the positions by compare-and-set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy import Table, TextClause, and_, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting import db
from services.reporting.projector.preparing import Prepared
from services.reporting.upserts import REJECTION_COLUMNS, REJECTIONS_UNNEST, Recording, upserts


class PositionsMoved(Exception):
    """Another projector (or a rebuild's switch) moved the positions: reload and seek."""


class Writing:
    """The projector's half that writes a batch (`Projector` is the consumer)."""

    engine: AsyncEngine
    generation: int | None
    positions: dict[TopicPartition, int]
    _postgres: bool
    _statements: dict[Table, Any]
    _upserts: dict[tuple[tuple[Table, ...], Recording], TextClause]
    _unknown: dict[Table, dict[str, None]]
    """SQLite: each fact table's columns, None where a row's facts do not say."""

    async def _unseen(self, connection: AsyncConnection, event_ids: list[str]) -> list[str]:
        """SQLite: record the batch's event ids in this generation; return those not applied
        before (in the batch's order): a relay may deliver an event again at a new offset.
        (PostgreSQL does it in the statement of the upserts, `_record_and_write_rows`.)"""
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
        """Every fact table's rows: on PostgreSQL one statement for all of them, on SQLite
        one executemany per table."""
        if not self._postgres:
            for table, rows in prepared.batch.rows.items():
                if rows:
                    unknown, generation = self._unknown[table], self.generation
                    await connection.execute(
                        self._statements[table],
                        [{**unknown, **row, "generation": generation} for row in rows.values()],
                    )
            return
        if prepared.rows:
            await connection.execute(self._upsert(prepared, "no"), self._rows_of(prepared))

    async def _record_and_write_rows(
        self, connection: AsyncConnection, prepared: Prepared
    ) -> set[str]:
        """PostgreSQL: record the batch's event ids and, if none was applied before, write
        every fact table's rows, in one statement; returns the ids applied before. Taken as
        all new first, under a savepoint: when one was applied before, the statement fails
        and the one that checks runs instead (`upserts.upserts`)."""
        parameters = self._rows_of(prepared)
        parameters["ids"] = list(prepared.events)
        try:
            async with connection.begin_nested():
                await connection.execute(self._upsert(prepared, "new"), parameters)
            return set()
        except IntegrityError:
            found = await connection.execute(self._upsert(prepared, "checked"), parameters)
            return set(found.scalar_one())

    def _upsert(self, prepared: Prepared, recording: Recording) -> TextClause:
        key = (tuple(prepared.rows), recording)
        statement = self._upserts.get(key)
        if statement is None:
            statement = self._upserts[key] = upserts(key[0], recording=recording)
        return statement

    def _rows_of(self, prepared: Prepared) -> dict[str, Any]:
        """Each table's rows as JSON, named `<table>__rows`, and the generation."""
        parameters: dict[str, Any] = {"generation": self.generation}
        for table, rows in prepared.rows.items():
            parameters[f"{table.name}__rows"] = rows
        return parameters

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
