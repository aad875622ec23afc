"""Clients and their identity.

A person's identity is held by the unit that serves them, never shared between units:

- **Registration** is per unit. A unit registering a NIK it already holds gets its own client
  back; any other unit gets a client of its own, and nothing in the answer says whether the
  person is known elsewhere. The keyed pseudonym of the NIK finds the person's `client_ref`
  (in `people`) so the events count one person, server-side only.
- **Reads** are for agents of the unit holding the client's open case (none open: the unit
  that served them last; before any case: the unit that registered them), with a reason;
  every read and every refusal is audited.
- **Erasure** shreds the data key of every unit's record of the person, deletes the NIK's
  link to the person and closes their open cases as `withdrawn`: the NIK resolves to nothing
  afterwards, and the person may come back as a new client.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.commands import Actor
from services.client_case.db import cases, clients, identity_reads, people
from services.client_case.domain import pathway
from services.client_case.domain.identity import Identity
from services.client_case.handlers.common import (
    Gone,
    Keys,
    NotFound,
    case_of_row,
    require_active_unit,
    save,
    where_of,
)
from shared.contracts import client_case as events
from shared.contracts.types import CaseStage, ClosureOutcome
from shared.messaging.outbox import Outbox
from shared.persistence import insert_ignoring_duplicates
from shared.rules import Violation, check
from shared.security.encryption import WrappedKey, decrypt_fields, encrypt_fields
from shared.security.identity import nik_problems, normalise_nik, pseudonym
from shared.security.roles import Forbidden


def lookup_of_nik(keys: Keys, nik: str) -> str:
    """The keyed pseudonym of a normalised NIK: the key of `people`, never stored elsewhere."""
    return pseudonym(keys.pseudonym_key, nik)


def lookup_of_key(keys: Keys, province: str, key: str) -> str:
    """The same for a province's own stable key for a person, when it sends no NIK."""
    basis = f"external:{province}:{key}"
    return hmac.new(keys.pseudonym_key, basis.encode(), hashlib.sha256).hexdigest()


def new_client_ref() -> str:
    """A person's pseudonym for the events: random, so nothing leads back from it."""
    return secrets.token_hex(32)


async def refs_of(db: AsyncSession, lookups: set[str]) -> dict[str, str]:
    """lookup → the person's client_ref, for the people known already."""
    if not lookups:
        return {}
    found = await db.execute(
        select(people.c.lookup, people.c.client_ref).where(people.c.lookup.in_(lookups))
    )
    return dict(found.tuples().all())


@dataclass(frozen=True)
class Registered:
    client_id: str
    new: bool
    """False only when this very unit registered the person before."""


async def handle_register_client(
    session: AsyncSession,
    keys: Keys,
    *,
    unit_id: str,
    identity: Identity,
    age_band: str | None,
    sex: str | None,
    today: date,
    by: Actor | None = None,
) -> Registered:
    """The unit's client for this person. A NIK the unit registered before is its existing
    client (a new phone or address replaces the old, as an identity change); a NIK known only
    elsewhere is a new client of this unit, sharing only the person's hidden `client_ref`."""
    await require_active_unit(session, unit_id)
    lookup = None
    if identity.nik:
        nik = normalise_nik(identity.nik)
        check(
            [Violation("identity.nik", p.rule, p.message) for p in nik_problems(nik, today=today)]
        )
        identity = replace(identity, nik=nik)
        lookup = lookup_of_nik(keys, nik)
    ref = (await refs_of(session, {lookup})).get(lookup) if lookup else None
    if ref is not None:
        own = (
            (
                await session.execute(
                    select(clients).where(
                        clients.c.client_ref == ref, clients.c.registered_unit_id == unit_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if own is not None:
            if await _update_identity(session, keys, own, identity) and by is not None:
                await _audit(session, own["client_id"], by, unit_id, "registered again", "change")
            return Registered(own["client_id"], new=False)
    elif lookup is not None:  # a person not seen before; a concurrent registration may win
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        await session.execute(
            insert_ignoring_duplicates(people, dialect).values(
                lookup=lookup, client_ref=new_client_ref()
            )
        )
        ref = (await refs_of(session, {lookup}))[lookup]
    client_id = str(uuid.uuid4())
    await session.execute(
        insert(clients).values(
            **sealed_client(keys, client_id, identity),
            client_ref=ref or new_client_ref(),
            registered_unit_id=unit_id,
            age_band=age_band,
            sex=sex,
            registered_at=datetime.now(UTC),
        )
    )
    return Registered(client_id, new=True)


def sealed_client(keys: Keys, client_id: str, identity: Identity) -> dict[str, Any]:
    """A client row's id and identity, sealed under a data key of the person's own."""
    data_key, wrapped = keys.ring.new_data_key()
    return {
        "client_id": client_id,
        "master_key_id": wrapped.master_key_id,
        "wrapped_data_key": wrapped.wrapped,
        "identity_sealed": encrypt_fields(data_key, identity.fields(), subject=client_id),
    }


async def _update_identity(session: AsyncSession, keys: Keys, row: Any, identity: Identity) -> bool:
    """Fields given again replace what the unit held; fields left out are kept. True when
    anything changed."""
    held = _open(keys, row)
    changed = {**held, **identity.fields()}
    if changed == held:
        return False
    data_key = keys.ring.unwrap(WrappedKey(row["master_key_id"], row["wrapped_data_key"]))
    await session.execute(
        update(clients)
        .where(clients.c.client_id == row["client_id"])
        .values(identity_sealed=encrypt_fields(data_key, changed, subject=row["client_id"]))
    )
    return True


def _open(keys: Keys, row: Any) -> dict[str, Any]:
    data_key = keys.ring.unwrap(WrappedKey(row["master_key_id"], row["wrapped_data_key"]))
    return decrypt_fields(data_key, row["identity_sealed"], subject=row["client_id"])


async def holding_units(session: AsyncSession, client: Any) -> set[str]:
    """The units that may act for a client: those holding an open case of theirs; when none
    is open, the unit that served them last; before any case, the unit that registered them."""
    held = await session.execute(
        select(cases.c.unit_id, cases.c.stage)
        .where(cases.c.client_id == client["client_id"])
        .order_by(cases.c.opened_on.desc(), cases.c.version.desc())
    )
    rows = held.all()
    if not rows:
        return {client["registered_unit_id"]}
    return {unit for unit, stage in rows if stage != CaseStage.CLOSED} or {rows[0][0]}


async def client_row(session: AsyncSession, client_id: str) -> Any:
    row = (
        (await session.execute(select(clients).where(clients.c.client_id == client_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no client {client_id}")
    return row


async def _audit(
    session: AsyncSession,
    client_id: str,
    by: Actor,
    unit: str | None,
    reason: str,
    action: str,
    granted: bool = True,
) -> None:
    await session.execute(
        insert(identity_reads).values(
            client_id=client_id,
            actor=by.actor[:120],
            unit_id=unit or (by.units[0] if by.units else None),
            reason=reason[:200],
            read_at=datetime.now(UTC),
            granted=granted,
            action=action,
        )
    )


async def _access(
    session: AsyncSession, client_id: str, by: Actor, reason: str, action: str
) -> Any:
    """The client's row, for an agent of the unit holding them; audited always, granted or
    not (the caller commits the audit row even when this raises). An agent of another unit is
    told there is no such client."""
    row = await client_row(session, client_id)
    holders = await holding_units(session, row)
    unit = next((u for u in by.units if u in holders), None)
    erased = row["wrapped_data_key"] is None
    await _audit(session, client_id, by, unit, reason, action, unit is not None and not erased)
    if not by.units:
        raise Forbidden("identity is read only by agents of the unit serving the client")
    if unit is None:
        raise NotFound(f"no client {client_id}")
    if erased:
        raise Gone("the identity of this client was erased")
    return row


async def handle_read_identity(
    session: AsyncSession, keys: Keys, client_id: str, *, reader: Actor, reason: str
) -> dict[str, Any]:
    """Decrypt a person's identity for an agent of the unit holding them, with a reason."""
    return _open(keys, await _access(session, client_id, reader, reason, "read"))


async def handle_change_identity(
    session: AsyncSession,
    keys: Keys,
    client_id: str,
    *,
    by: Actor,
    reason: str,
    changes: Identity,
) -> list[str]:
    """Contact details (name, phone, address, label) corrected by an agent of the unit holding
    the client, with a reason; audited like a read. The NIK is not changed here: a different
    NIK is a different person, registered as such. Returns the fields changed."""
    check(
        [Violation("identity.nik", "nik-fixed", "a different NIK is registered as a new client")]
        if changes.nik
        else []
    )
    row = await _access(session, client_id, by, reason, "change")
    held = _open(keys, row)
    await _update_identity(session, keys, row, changes)
    return sorted(k for k, v in changes.fields().items() if held.get(k) != v)


def label_of(keys: Keys, row: Any) -> str | None:
    """The unit's label for its client, for the unit's own agents (not an identity read)."""
    if row["wrapped_data_key"] is None:
        return None
    label = _open(keys, row).get("label")
    return str(label) if label else None


async def identity_audit(
    session: AsyncSession, *, client_id: str | None, since: datetime | None, limit: int
) -> list[dict[str, Any]]:
    query = select(identity_reads).order_by(identity_reads.c.id.desc()).limit(limit)
    if client_id:
        query = query.where(identity_reads.c.client_id == client_id)
    if since:
        query = query.where(identity_reads.c.read_at >= since)
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def handle_erase_client(
    session: AsyncSession, outbox: Outbox, client_id: str, *, today: date
) -> list[str]:
    """Erase the person behind a client, in every unit: each record's data key is destroyed
    (the sealed identity stays, unreadable), the NIK's link to the person is deleted, and their
    open cases are closed as `withdrawn`, each with its `CaseClosed`. Returns the closed case
    ids. Events already published name only the random `client_ref`, which nothing links to
    the NIK any more."""
    ref = (await client_row(session, client_id))["client_ref"]
    theirs = select(clients.c.client_id).where(clients.c.client_ref == ref)
    now = datetime.now(UTC)
    await session.execute(
        update(clients)
        .where(clients.c.client_ref == ref, clients.c.erased_at.is_(None))
        .values(wrapped_data_key=None, master_key_id=None, erased_at=now)
    )
    await session.execute(delete(people).where(people.c.client_ref == ref))
    open_cases = await session.execute(
        select(cases)
        .where(cases.c.client_id.in_(theirs), cases.c.stage != CaseStage.CLOSED)
        .with_for_update()
    )
    closed_ids = []
    for row in open_cases.mappings().all():
        case = case_of_row(row)
        on = max(today, case.opened_on)
        closed = pathway.close(case, ClosureOutcome.WITHDRAWN, on=on, today=on)
        await save(session, closed)
        await outbox.add(
            session,
            events.CaseClosed(
                **where_of(closed),
                outcome=ClosureOutcome.WITHDRAWN,
                last_stage=case.stage,
                closed_on=on,
                weeks_in_service=pathway.weeks_in_service(case, on),
                referral_id=None,
            ),
        )
        closed_ids.append(case.case_id)
    return closed_ids


def require_not_erased(client: Any) -> None:
    if client["erased_at"] is not None:
        raise Gone("this client was erased")
