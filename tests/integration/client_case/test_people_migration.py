"""Migrating a live database to per-unit clients: people registered before keep their
`client_ref` (it is in the events already) and their NIK still finds them; people erased
before stay unfindable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select, text

from services.client_case.db import MIGRATIONS, people
from services.client_case.handlers import Identity, Keys
from services.client_case.handlers.identity import handle_register_client
from services.client_case.settings import Settings
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.security.identity import pseudonym
from tests.privacy import NIK, SECOND_NIK


async def test_registered_people_keep_their_ref_and_erased_ones_stay_unfindable(
    database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "client-case", "client_case_0005")
    settings = Settings(database_url=database_url)
    key = settings.pseudonym_key_bytes
    kept, erased = pseudonym(key, NIK), pseudonym(key, SECOND_NIK)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO known_units (unit_id, province_code, village_code, status)"
                    " VALUES ('unit-0000000000000001', '74', '74.71.01.1005', 'active')"
                )
            )
            for client_id, ref, wrapped in (("c-kept", kept, b"k"), ("c-erased", erased, None)):
                await connection.execute(
                    text(
                        "INSERT INTO clients (client_id, client_ref, registered_unit_id,"
                        " wrapped_data_key, registered_at)"
                        " VALUES (:id, :ref, 'unit-0000000000000001', :wrapped, :at)"
                    ),
                    {"id": client_id, "ref": ref, "wrapped": wrapped, "at": datetime.now(UTC)},
                )
        await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "client-case")
        async with engine.connect() as connection:
            links = (await connection.execute(select(people))).tuples().all()
        assert links == [(kept, kept)]
        # Another unit registering the kept NIK counts the same person: the same hidden ref.
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO known_units (unit_id, province_code, village_code, status)"
                    " VALUES ('unit-0000000000000002', '74', '74.71.01.1006', 'active')"
                )
            )
        keys = Keys(settings.key_ring, key)
        async with session_factory(engine).begin() as session:
            for nik in (NIK, SECOND_NIK):
                registered = await handle_register_client(
                    session,
                    keys,
                    unit_id="unit-0000000000000002",
                    identity=Identity(nik=nik),
                    age_band=None,
                    sex=None,
                    today=datetime.now(UTC).date(),
                )
                assert registered.new
        async with engine.connect() as connection:
            refs = dict(
                (
                    await connection.execute(
                        text(
                            "SELECT client_id, client_ref FROM clients"
                            " WHERE registered_unit_id = 'unit-0000000000000002'"
                        )
                    )
                )
                .tuples()
                .all()
            )
        assert kept in refs.values() and erased not in refs.values()
    finally:
        await engine.dispose()
