"""What every service's routes take, as typed `Annotated` dependencies (the full-stack FastAPI
template's `SessionDep`): who is asking (`CallerDep`, `PersonDep`), a command's transaction
(`CommandDep`), a read (`QueryDep`, `EngineDep`), the runtime and its settings (`RuntimeDep`,
`DataRuntimeDep`, `SettingsDep[Settings]`).

A command commits when its route returns and before the answer is sent (the dependency's
scope is the route's function): a commit that fails is answered as an error, never as a 2xx
for a write that did not happen. Any exception rolls the transaction back; after a commit the
service's outbox relay is woken, so the events go out at once.

Every dependency is `async def`: FastAPI runs a plain `def` in its thread pool, a thread hop
on every request (a profile at 200 requests/s found a sixth of the registry's time there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.messaging.outbox import Outbox
from shared.runtime import DataRuntime, Runtime
from shared.security.bearer import PrincipalDep
from shared.security.roles import Caller, Forbidden
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)

# --- the runtime and its settings --------------------------------------------------------------


async def runtime(request: Request) -> Runtime[Any]:
    """The runtime `create_app` serves (`app.state.runtime`)."""
    return cast(Runtime[Any], request.app.state.runtime)


async def data_runtime(request: Request) -> DataRuntime[Any]:
    """The runtime of a service with its own database: only such services' routes take it."""
    return cast(DataRuntime[Any], request.app.state.runtime)


async def settings(request: Request) -> Any:
    return request.app.state.runtime.settings


RuntimeDep = Annotated[Runtime[Any], Depends(runtime)]
DataRuntimeDep = Annotated[DataRuntime[Any], Depends(data_runtime)]
SettingsDep = Annotated[S, Depends(settings)]
"""The service's settings, as its own class: `settings: SettingsDep[Settings]`."""


# --- who is asking -----------------------------------------------------------------------------


async def caller(who: PrincipalDep) -> Caller:
    """Any verified token: people's and provincial systems'."""
    return Caller.of(who.subject, who.grants)


CallerDep = Annotated[Caller, Depends(caller)]


async def person(who: CallerDep) -> Caller:
    """A person's token (any role of people). A provincial system may only ingest and read its
    receipts (the gateway's routes), so it is refused here."""
    if not who.is_person:
        raise Forbidden(
            "the token grants no role here (a provincial system ingests and reads its receipts)"
        )
    return who


PersonDep = Annotated[Caller, Depends(person)]


# --- the database --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command's transaction: the database session, the outbox its events are staged in
    (in the same transaction), and when it began."""

    db: AsyncSession
    outbox: Outbox
    now: datetime


async def command(service: DataRuntimeDep) -> AsyncIterator[Command]:
    async with service.sessions.begin() as db:
        yield Command(db, service.outbox, datetime.now(UTC))
    service.notify_committed()


async def query(service: DataRuntimeDep) -> AsyncIterator[AsyncSession]:
    async with service.sessions() as db:
        yield db


async def engine(service: DataRuntimeDep) -> AsyncEngine:
    return service.engine


CommandDep = Annotated[Command, Depends(command, scope="function")]
"""A transaction committed when the route returns, before the answer is sent."""
QueryDep = Annotated[AsyncSession, Depends(query, scope="function")]
"""A session to read with, closed when the route returns."""
EngineDep = Annotated[AsyncEngine, Depends(engine)]
"""The engine, for routes that read with connections of their own (reporting)."""
