"""Clients and their identity: registration (identity encrypted under the person's own data
key, the NIK pseudonymised), audited reads, and erasure by destroying the data key."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import (
    clients,
    identity_reads,
)
from services.client_case.handlers.common import (
    Gone,
    Identity,
    Keys,
    NotFound,
    require_active_unit,
)
from shared.rules import Violation, check
from shared.security.encryption import WrappedKey, decrypt_fields, encrypt_fields
from shared.security.identity import nik_problems, normalise_nik, pseudonym


async def handle_register_client(
    session: AsyncSession,
    keys: Keys,
    *,
    unit_id: str,
    identity: Identity,
    age_band: str | None,
    sex: str | None,
    today: date,
    external_key: str | None = None,
) -> tuple[str, str, bool]:
    """Returns (client_id, client_ref, new). A NIK seen before, in any unit, is the same
    person: their existing client is returned and nothing is stored twice. Without a NIK, a
    province's own stable key for the person (`external_key`, e.g. `74:<id>`) plays that part."""
    await require_active_unit(session, unit_id)
    client_id = str(uuid.uuid4())
    if identity.nik:
        nik = normalise_nik(identity.nik)
        check(
            [Violation("identity.nik", p.rule, p.message) for p in nik_problems(nik, today=today)]
        )
        identity = Identity(nik, identity.name, identity.phone, identity.address)
        ref = pseudonym(keys.pseudonym_key, nik)
    else:
        basis = f"external:{external_key}" if external_key else f"client:{client_id}"
        ref = hmac.new(keys.pseudonym_key, basis.encode(), hashlib.sha256).hexdigest()
    known = (
        await session.execute(select(clients.c.client_id).where(clients.c.client_ref == ref))
    ).scalar()
    if known is not None:
        return str(known), ref, False
    data_key, wrapped = keys.ring.new_data_key()
    await session.execute(
        insert(clients).values(
            client_id=client_id,
            client_ref=ref,
            registered_unit_id=unit_id,
            master_key_id=wrapped.master_key_id,
            wrapped_data_key=wrapped.wrapped,
            identity_sealed=encrypt_fields(data_key, identity.fields(), subject=client_id),
            age_band=age_band,
            sex=sex,
            registered_at=datetime.now(UTC),
        )
    )
    return client_id, ref, True


async def handle_read_identity(
    session: AsyncSession, keys: Keys, client_id: str, *, actor: str, reason: str
) -> dict[str, Any]:
    """Decrypt a person's identity for a unit agent with a stated reason; audited always,
    whether or not it succeeds."""
    row = (
        (await session.execute(select(clients).where(clients.c.client_id == client_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no client {client_id}")
    erased = row["wrapped_data_key"] is None
    await session.execute(
        insert(identity_reads).values(
            client_id=client_id,
            actor=actor[:120],
            reason=reason[:200],
            read_at=datetime.now(UTC),
            granted=not erased,
        )
    )
    if erased:
        raise Gone("the identity of this client was erased")
    data_key = keys.ring.unwrap(WrappedKey(row["master_key_id"], row["wrapped_data_key"]))
    return decrypt_fields(data_key, row["identity_sealed"], subject=client_id)


async def handle_erase_client(session: AsyncSession, client_id: str) -> None:
    """Crypto-shredding: the data key is destroyed, so the sealed identity (kept, unreadable)
    can never be opened again; events that name only the pseudonym stay valid."""
    done = await session.execute(
        update(clients)
        .where(clients.c.client_id == client_id)
        .values(wrapped_data_key=None, master_key_id=None, erased_at=datetime.now(UTC))
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no client {client_id}")
