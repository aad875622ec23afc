"""Master key rotation as an operator runs it: a new master key next to the old one, then
`pulih client-case rewrap-keys`; afterwards the old key can leave the ring and every identity
still opens, while an erased person stays erased."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from services.client_case.db import MIGRATIONS, clients, known_units
from services.client_case.handlers import Identity, Keys
from services.client_case.handlers.identity import handle_register_client
from services.client_case.settings import Settings
from shared.cli import app
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.security.encryption import KeyRing, WrappedKey, decrypt_fields
from shared.security.keys import DEV_MASTER_KEYS
from tests.privacy import NAME, NIK

UNIT = "unit-0000000000000001"


async def _register(url: str, nik: str | None, name: str) -> str:
    settings = Settings(database_url=url)
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            registered = await handle_register_client(
                session,
                Keys(settings.key_ring, settings.pseudonym_key_bytes),
                unit_id=UNIT,
                identity=Identity(nik=nik, name=name),
                age_band=None,
                sex=None,
                today=datetime.now(UTC).date(),
            )
    finally:
        await engine.dispose()
    return registered.client_id


async def test_rewrap_moves_every_data_key_to_the_new_master(database_url: str) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "client-case")
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            known_units.insert().values(
                unit_id=UNIT, province_code="74", village_code="74.71.01.1005", status="active"
            )
        )
    kept = await _register(database_url, NIK, NAME)
    erased = await _register(database_url, None, "Orang Lain")
    env = {**os.environ, "PULIH_DATABASE_URL": database_url}
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "erase", erased], env=env
    )
    assert result.exit_code == 0, result.output

    new_master = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "keygen", "--master-key-only", "m2"]
    )
    m2 = new_master.output.strip()
    assert m2.startswith("m2:") and len(base64.b64decode(m2[3:])) == 32
    rotating = {**env, "PULIH_MASTER_KEYS": f"{DEV_MASTER_KEYS},{m2}"}
    rotating["PULIH_CURRENT_MASTER_KEY"] = "m2"
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "rewrap-keys"], env=rotating
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "re-wrapped under m2: 1 from dev1; data keys by master now: m2: 1"
    )
    again = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "rewrap-keys"], env=rotating
    )
    assert "re-wrapped under m2: none" in again.output

    async with engine.connect() as connection:
        rows = {
            r["client_id"]: r for r in (await connection.execute(select(clients))).mappings().all()
        }
    await engine.dispose()
    only_m2 = KeyRing.from_setting(m2, "m2")  # the old master has left the ring
    row = rows[kept]
    data_key = only_m2.unwrap(WrappedKey(row["master_key_id"], row["wrapped_data_key"]))
    identity = decrypt_fields(data_key, row["identity_sealed"], subject=kept)
    assert identity["name"] == NAME and identity["nik"] == NIK
    assert rows[erased]["wrapped_data_key"] is None and rows[erased]["master_key_id"] is None


async def test_erase_finds_the_person_by_a_case_id(database_url: str) -> None:
    """A province knows the case id its receipt gave, not the client id: `erase --case`."""
    from datetime import date

    from services.client_case.db import cases

    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "client-case")
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            known_units.insert().values(
                unit_id=UNIT, province_code="74", village_code="74.71.01.1005", status="active"
            )
        )
    client_id = await _register(database_url, NIK, NAME)
    async with engine.begin() as connection:
        ref = (
            await connection.execute(
                select(clients.c.client_ref).where(clients.c.client_id == client_id)
            )
        ).scalar_one()
        await connection.execute(
            cases.insert().values(
                case_id="case-of-the-request",
                client_id=client_id,
                client_ref=ref,
                unit_id=UNIT,
                province_code="74",
                village_code="74.71.01.1005",
                stage="closed",
                opened_on=date(2026, 1, 5),
                version=1,
            )
        )
    env = {**os.environ, "PULIH_DATABASE_URL": database_url}
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, app, ["client-case", "erase", "--case", "case-of-the-request"], env=env
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip() == f"client {client_id}: erased; 0 open case(s) closed as withdrawn"
    )
    unknown = await asyncio.to_thread(
        runner.invoke, app, ["client-case", "erase", "--case", "no-such-case"], env=env
    )
    assert unknown.exit_code == 1 and "no case no-such-case" in unknown.output
    async with engine.connect() as connection:
        row = (
            (await connection.execute(select(clients).where(clients.c.client_id == client_id)))
            .mappings()
            .one()
        )
    await engine.dispose()
    assert row["wrapped_data_key"] is None and row["erased_at"] is not None
