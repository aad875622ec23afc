"""Transactional outbox: events are rows written in the same transaction as the change.

`Outbox.add` never talks to Kafka. It records the CloudEvents record (key, headers, body) and
the writer's trace context; the relay publishes after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope, header_values, wrap
from shared.messaging.broker import Topics
from shared.telemetry import inject_headers


class Outbox:
    def __init__(self, table: Table, *, source: str, topics: Topics) -> None:
        self.table = table
        self.source = source
        self.topics = topics

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        topic: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """Stage one event in the session's transaction; returns its envelope (with its id)."""
        envelopes = await self.add_all(session, [data], topic=topic, event_id=event_id, time=time)
        return envelopes[0]

    async def add_all(
        self,
        session: AsyncSession,
        items: Sequence[EventData],
        *,
        topic: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> list[Envelope]:
        if event_id is not None and len(items) != 1:
            raise ValueError("an explicit event_id needs exactly one event")
        trace_headers = [[name, raw.decode()] for name, raw in inject_headers()]
        now = datetime.now(UTC)
        envelopes, rows = [], []
        for data in items:
            envelope = wrap(data, source=self.source, event_id=event_id, time=time)
            rows.append(
                {
                    "event_id": envelope.id,
                    "topic": self.topics.name(topic or data.topic),
                    "key": envelope.key,
                    "headers": [[n, v] for n, v in header_values(envelope)] + trace_headers,
                    "value": data.model_dump_json().encode(),
                    "created_at": now,
                }
            )
            envelopes.append(envelope)
        if rows:
            await session.execute(insert(self.table), rows)
        return envelopes

    async def stage_batch(
        self, session: AsyncSession, events: Sequence[tuple[int, EventData]]
    ) -> dict[int, str]:
        """Stage a batch's events, each tagged with the index of the item that caused it, in
        one insert; returns the id of each item's first event (its receipt names it)."""
        envelopes = await self.add_all(session, [data for _, data in events])
        first: dict[int, str] = {}
        for (index, _), envelope in zip(events, envelopes, strict=True):
            first.setdefault(index, envelope.id)
        return first

    async def backlog(self, session: AsyncSession) -> int:
        stmt = select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
        return int((await session.execute(stmt)).scalar_one())
