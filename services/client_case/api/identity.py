"""Clients and their identity: registration, the provinces' sealing key, audited identity
reads (a reason is required) and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from services.client_case import handlers
from services.client_case.api.common import (
    CallerDep,
    ClientCreate,
    command,
    keys_of,
    settings_of,
)
from services.client_case.db import cases, clients
from services.client_case.handlers import Gone, Identity, NotFound
from shared.security.roles import Forbidden

router = APIRouter()


@router.get("/identity-key", tags=["identity"])
async def identity_key(request: Request) -> dict[str, str]:
    """The public key provinces seal identity blocks to (libsodium sealed box, X25519)."""
    import base64

    from nacl.public import PrivateKey

    private = base64.b64decode(settings_of(request).identity_private_key.get_secret_value())
    public = bytes(PrivateKey(private).public_key)
    return {
        "algorithm": "libsodium-sealed-box-x25519",
        "public_key": base64.b64encode(public).decode(),
    }


@router.post("/clients", status_code=201, tags=["identity"])
async def register_client(body: ClientCreate, who: CallerDep, request: Request) -> dict[str, Any]:
    who.works_in(body.unit_id)
    identity = Identity(**body.identity.model_dump())
    async with command(request) as (session, _outbox, today):
        client_id, ref, new = await handlers.handle_register_client(
            session,
            keys_of(request),
            unit_id=body.unit_id,
            identity=identity,
            age_band=body.age_band,
            sex=body.sex,
            today=today,
        )
    return {"client_id": client_id, "client_ref": ref, "new": new}


@router.get("/clients/{client_id}/identity", tags=["identity"])
async def read_identity(
    client_id: str,
    who: CallerDep,
    request: Request,
    reason: Annotated[
        str, Query(min_length=5, max_length=200, description="Why the identity is needed; audited.")
    ],
) -> dict[str, Any]:
    async with command(request) as (session, _outbox, _today):
        unit = (
            await session.execute(
                select(clients.c.registered_unit_id).where(clients.c.client_id == client_id)
            )
        ).scalar()
        served_in = set(
            (
                await session.execute(select(cases.c.unit_id).where(cases.c.client_id == client_id))
            ).scalars()
        )
        if unit is None:
            raise NotFound(f"no client {client_id}")
        if not {unit, *served_in} & set(who.units):
            raise Forbidden("identity is readable only by agents of a unit serving the client")
        try:
            identity = await handlers.handle_read_identity(
                session, keys_of(request), client_id, actor=who.header, reason=reason
            )
        except Gone:
            await session.commit()  # the refused read is audited too
            raise
    return identity


@router.post("/clients/{client_id}/erasure", tags=["identity"])
async def erase_client(client_id: str, who: CallerDep, request: Request) -> dict[str, str]:
    """Right to erasure (UU 27/2022): destroys the person's data key."""
    if not who.national:
        raise Forbidden("erasure is done by a national operator")
    async with command(request) as (session, _outbox, _today):
        await handlers.handle_erase_client(session, client_id)
    return {"client_id": client_id, "identity": "erased"}
