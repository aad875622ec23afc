"""`shared.dependencies`: a command commits before its answer is sent, so a commit that fails
is answered as an error (never a 2xx for a write that did not happen); any exception rolls it
back; the relay is woken after a commit only. Callers are read once from the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import Column, MetaData, String, Table, event, func, insert, select

from shared.dependencies import CallerDep, CommandDep, PersonDep, QueryDep, SettingsDep
from shared.http import Problem, install_domain_errors
from shared.messaging.tables import platform_tables
from shared.runtime import DataRuntime, Runtime, ServiceSpec, create_app
from shared.security.roles import Caller, Forbidden
from shared.settings import ServiceSettings
from tests.auth import bearer

metadata = MetaData()
notes = Table("notes", metadata, Column("text", String, primary_key=True))
router = APIRouter()


class Refused(Exception):
    pass


@router.post("/notes/{text}", status_code=201)
async def write(text: str, tx: CommandDep, fail: str = "") -> dict[str, str]:
    await tx.db.execute(insert(notes).values(text=text))
    if fail == "route":
        raise Refused(text)
    if fail == "commit":

        def refuse(_session: Any) -> None:
            raise RuntimeError("the database refused the commit")

        event.listen(tx.db.sync_session, "before_commit", refuse)
    return {"text": text}


@router.get("/notes")
async def count(db: QueryDep, settings: SettingsDep[ServiceSettings]) -> dict[str, Any]:
    return {
        "notes": (await db.execute(select(func.count()).select_from(notes))).scalar_one(),
        "service": settings.service_name,
    }


@router.get("/me")
async def me(who: PersonDep) -> dict[str, Any]:
    return {"subject": who.subject, "units": list(who.units), "regions": list(who.regions)}


@router.get("/any")
async def anyone(who: CallerDep) -> dict[str, Any]:
    return {"provinces": list(who.provinces)}


SPEC = ServiceSpec[ServiceSettings](
    name="notes", metadata=metadata, platform=platform_tables(metadata), routers=[router]
)


@pytest.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[tuple[DataRuntime[Any], httpx.AsyncClient, list[int]]]:
    settings = ServiceSettings(
        service_name="notes", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    runtime = Runtime(SPEC, settings)
    assert isinstance(runtime, DataRuntime)  # a spec with its own tables runs as one
    async with runtime.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    woken: list[int] = []
    runtime.notify_committed = lambda: woken.append(1)  # type: ignore[method-assign]
    app = create_app(runtime)
    install_domain_errors(app, rules_of="notes", problems={Refused: Problem(409, "Refused")})
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
        yield runtime, client, woken
    await runtime.engine.dispose()


async def test_a_command_commits_before_its_answer_and_wakes_the_relay(
    served: tuple[DataRuntime[Any], httpx.AsyncClient, list[int]],
) -> None:
    _runtime, client, woken = served
    answer = await client.post("/notes/first")
    assert answer.status_code == 201
    assert woken == [1]
    counted = await client.get("/notes")
    assert counted.json() == {"notes": 1, "service": "notes"}


async def test_a_failed_commit_is_an_error_answer_and_nothing_is_written(
    served: tuple[DataRuntime[Any], httpx.AsyncClient, list[int]],
) -> None:
    _runtime, client, woken = served
    answer = await client.post("/notes/lost", params={"fail": "commit"})
    assert answer.status_code == 500
    assert woken == []
    assert (await client.get("/notes")).json()["notes"] == 0


async def test_a_refusal_in_the_route_rolls_the_command_back(
    served: tuple[DataRuntime[Any], httpx.AsyncClient, list[int]],
) -> None:
    _runtime, client, woken = served
    answer = await client.post("/notes/refused", params={"fail": "route"})
    assert answer.status_code == 409 and answer.json()["title"] == "Refused"
    assert woken == []
    assert (await client.get("/notes")).json()["notes"] == 0


async def test_callers_are_read_from_the_token(
    served: tuple[DataRuntime[Any], httpx.AsyncClient, list[int]],
) -> None:
    _runtime, client, _woken = served
    unit = "0123456789abcdef0123"
    who = await client.get("/me", headers=bearer(f"unit-agent:{unit}", "district-operator:74.71"))
    assert who.json() == {"subject": "tester", "units": [unit], "regions": ["74.71"]}
    system = bearer("province-system:74")
    assert (await client.get("/me", headers=system)).status_code == 403  # people only
    assert (await client.get("/any", headers=system)).json() == {"provinces": ["74"]}
    assert (await client.get("/any")).status_code == 401


def test_a_service_without_tables_cannot_run_consumers_or_loops() -> None:
    settings = ServiceSettings(service_name="bare")
    assert type(Runtime(ServiceSpec[ServiceSettings](name="bare"), settings)) is Runtime
    with pytest.raises(ValueError, match="own database"):
        Runtime(ServiceSpec[ServiceSettings](name="bare", consumes=["ibm.registry"]), settings)
    with pytest.raises(Forbidden):
        Caller.of("someone", ()).works_in("a-unit")
