"""Clients and their identity: registration, the provinces' sealing key, audited identity
reads (a reason is required) and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.client_case import handlers
from services.client_case.api.common import (
    CaseWorkerDep,
    ClientCreate,
    ContextDep,
    IdentityIn,
    actor_of,
)
from services.client_case.commands import (
    ChangeIdentity,
    EraseClient,
    ReadIdentity,
    RegisterClient,
)
from services.client_case.handlers import Gone, Identity, NotFound, execute
from services.client_case.settings import Settings
from shared.dependencies import QueryDep, SettingsDep
from shared.http import problem_responses
from shared.security.roles import Forbidden

router = APIRouter()


class IdentityKey(BaseModel):
    algorithm: Literal["libsodium-sealed-box-x25519"]
    public_key: str = Field(description="The X25519 public key, base64.")


class ClientRegistered(BaseModel):
    client_id: str
    new: bool = Field(description="False only when this unit registered the same NIK before.")


class IdentityPublic(BaseModel):
    """The identity the unit holds; fields it does not hold are left out."""

    nik: str | None = None
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    label: str | None = Field(default=None, description="The short name the unit chose.")


class IdentityChanged(BaseModel):
    client_id: str
    changed: list[str] = Field(description="The fields whose value changed.")


class IdentityRead(BaseModel):
    """One entry of the identity audit."""

    id: int
    client_id: str
    actor: str = Field(description="The caller: the token's subject.")
    unit_id: str | None = Field(description="The caller's unit, for an agent.")
    reason: str
    read_at: datetime
    granted: bool
    action: Literal["read", "change"]


class ClientErased(BaseModel):
    client_id: str
    identity: Literal["erased"]
    cases_withdrawn: list[str] = Field(description="The open cases closed as `withdrawn`.")


@router.get("/identity-key", response_model=IdentityKey, tags=["identity"])
async def identity_key(settings: SettingsDep[Settings]) -> dict[str, str]:
    """The public key provinces seal identity blocks to (libsodium sealed box, X25519)."""
    import base64

    from nacl.public import PrivateKey

    private = base64.b64decode(settings.identity_private_key.get_secret_value())
    public = bytes(PrivateKey(private).public_key)
    return {
        "algorithm": "libsodium-sealed-box-x25519",
        "public_key": base64.b64encode(public).decode(),
    }


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientRegistered,
    responses=problem_responses(404),
    tags=["identity"],
)
async def register_client(
    body: ClientCreate, who: CaseWorkerDep, ctx: ContextDep
) -> dict[str, Any]:
    """Register a person in the agent's unit. The answer never says whether the person is
    known in another unit: another unit's client is never shared. `new` is false only when
    this unit registered the same NIK before; identity fields given again (a new phone or
    address) then replace what the unit held."""
    who.works_in(body.unit_id)
    register = RegisterClient(
        unit_id=body.unit_id,
        identity=Identity(**body.identity.model_dump()),
        age_band=body.age_band,
        sex=body.sex,
        by=actor_of(who),
    )
    registered = await execute(ctx, register)
    return {"client_id": registered.client_id, "new": registered.new}


@router.get(
    "/clients/{client_id}/identity",
    response_model=IdentityPublic,
    response_model_exclude_unset=True,
    responses=problem_responses(404, 410),
    tags=["identity"],
)
async def read_identity(
    client_id: str,
    who: CaseWorkerDep,
    ctx: ContextDep,
    reason: Annotated[
        str, Query(min_length=5, max_length=200, description="Why the identity is needed; audited.")
    ],
) -> dict[str, Any]:
    """For agents of the unit holding the client's open case (none open: the unit that served
    them last; before any case: the unit that registered them). Every read and every refusal
    is audited with the caller, unit, reason and time. Another unit's client answers 404, as
    if unknown; an erased one 410."""
    try:
        identity: dict[str, Any] = await execute(
            ctx, ReadIdentity(client_id, reason, by=actor_of(who))
        )
    except (Gone, NotFound, Forbidden):
        await ctx.session.commit()  # the refused read is audited too
        raise
    return identity


@router.patch(
    "/clients/{client_id}/identity",
    response_model=IdentityChanged,
    responses=problem_responses(404, 410),
    tags=["identity"],
)
async def change_identity(
    client_id: str,
    body: IdentityIn,
    who: CaseWorkerDep,
    ctx: ContextDep,
    reason: Annotated[
        str, Query(min_length=5, max_length=200, description="Why it changes; audited.")
    ],
) -> dict[str, Any]:
    """Correct the name, phone, address or label the unit holds, with a reason; fields left
    out are kept. Who may: as for reading. Audited (action `change`) granted or not."""
    change = ChangeIdentity(client_id, Identity(**body.model_dump()), reason, by=actor_of(who))
    try:
        changed = await execute(ctx, change)
    except (Gone, NotFound, Forbidden):
        await ctx.session.commit()  # the refused change is audited too
        raise
    return {"client_id": client_id, "changed": changed}


@router.get("/identity-reads", response_model=list[IdentityRead], tags=["identity"])
async def identity_reads(
    who: CaseWorkerDep,
    db: QueryDep,
    client_id: str | None = None,
    since: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The identity audit, newest first: who asked to read (or change) which client's
    identity, from which unit, why, when, and whether it was granted. National operators."""
    if not who.national:
        raise Forbidden("the identity audit is read by national operators")
    return await handlers.identity_audit(db, client_id=client_id, since=since, limit=limit)


@router.post(
    "/clients/{client_id}/erasure",
    response_model=ClientErased,
    responses=problem_responses(404),
    tags=["identity"],
)
async def erase_client(client_id: str, who: CaseWorkerDep, ctx: ContextDep) -> dict[str, Any]:
    """Right to erasure (UU 27/2022), by a national operator: the person behind this client
    is erased in every unit. Their data keys are destroyed, their NIK resolves to nothing
    (they may come back as a new client), and their open cases are closed as `withdrawn`."""
    if not who.national:
        raise Forbidden("erasure is done by a national operator")
    closed = await execute(ctx, EraseClient(client_id))
    return {"client_id": client_id, "identity": "erased", "cases_withdrawn": closed}
