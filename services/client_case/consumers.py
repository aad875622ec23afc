"""What the client-case service learns from other services' events: the registry's units,
so a screening is recorded only in a unit that exists and is active."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import known_units
from shared.contracts import registry
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import Handler
from shared.persistence import insert_ignoring_duplicates
from shared.runtime import Runtime

CONSUMES = [registry.TOPIC]


def registry_handler(_runtime: Runtime) -> Handler:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.data
        if isinstance(data, registry.UnitFormed):
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            await session.execute(
                insert_ignoring_duplicates(known_units, dialect).values(
                    unit_id=data.unit_id,
                    province_code=data.province_code,
                    village_code=data.village_code,
                    status="active",
                )
            )
        elif isinstance(data, registry.UnitStatusChanged):
            await session.execute(
                update(known_units)
                .where(known_units.c.unit_id == data.unit_id)
                .values(status=data.to_status)
            )

    return handle
