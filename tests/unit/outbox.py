"""What a handler staged in its service's outbox, read back as the relay would publish it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts.base import EventData
from shared.contracts.envelope import from_kafka
from tests.privacy import SENSITIVE


@dataclass(frozen=True)
class Staged:
    """One outbox row: its topic, record key, the event it decodes to, and its raw bytes."""

    event_id: str
    topic: str
    key: str
    data: EventData
    raw: bytes

    @property
    def kind(self) -> str:
        return type(self.data).__name__


async def staged(engine: AsyncEngine, outbox: Table) -> list[Staged]:
    """Every row of the outbox in commit order, decoded from its CloudEvents record. Fails if
    any identity value of `tests.privacy` appears in a key, header or body."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    found = []
    for row in rows:
        headers = [(name, value.encode()) for name, value in row["headers"]]
        envelope = from_kafka(headers, row["key"], row["value"])
        raw = row["key"] + row["value"] + b"".join(n.encode() + v for n, v in headers)
        leaked = [value for value in SENSITIVE if value.encode() in raw]
        assert not leaked, f"identity in the outbox ({envelope.type}): {leaked}"
        found.append(Staged(row["event_id"], row["topic"], row["key"].decode(), envelope.data, raw))
    return found
