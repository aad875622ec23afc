"""Generations of the read model and how far each has projected: the current one (made on
first use), the one readers are served with its positions' sum, and its positions."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import TopicPartition
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import db


async def current_generation(connection: AsyncConnection) -> int:
    found = await connection.execute(
        select(db.generations.c.current).where(db.generations.c.id == 1)
    )
    generation = found.scalar()
    if generation is None:
        await connection.execute(
            insert(db.generations).values(id=1, current=1, switched_at=datetime.now(UTC))
        )
        return 1
    return int(generation)


async def serving_generation(connection: AsyncConnection) -> tuple[int, int]:
    """For readers: the current generation and how far it has projected (the sum of its
    positions, which changes whenever a batch is written), without writing anything."""
    found = await connection.execute(
        select(db.generations.c.current).where(db.generations.c.id == 1)
    )
    generation = int(found.scalar() or 1)
    reached = await connection.execute(
        select(func.coalesce(func.sum(db.positions.c.next_offset), 0)).where(
            db.positions.c.generation == generation
        )
    )
    return generation, int(reached.scalar() or 0)


async def load_positions(connection: AsyncConnection, generation: int) -> dict[TopicPartition, int]:
    rows = await connection.execute(
        select(db.positions.c.topic, db.positions.c.partition, db.positions.c.next_offset).where(
            db.positions.c.generation == generation
        )
    )
    return {TopicPartition(t, p): int(o) for t, p, o in rows.all()}
