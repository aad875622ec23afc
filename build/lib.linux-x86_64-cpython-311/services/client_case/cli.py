"""`pulih client-case …`: erasure and key generation."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Annotated

import typer

app = typer.Typer(help="Clients, screening and cases.", no_args_is_help=True)


@app.command("erase")
def erase(
    client_id: Annotated[str | None, typer.Argument(help="The client's id.")] = None,
    case: Annotated[
        str | None,
        typer.Option(
            "--case",
            metavar="CASE_ID",
            help="Find the client by one of their cases instead (a province knows the case id "
            "its receipt gave, not the client id).",
        ),
    ] = None,
) -> None:
    """Right to erasure: the person behind this client is erased in every unit. Their
    identity can never be read again, their NIK resolves to nothing, their open cases are
    closed as withdrawn (the running service publishes the events); the events, which carry
    only a random pseudonym, stay valid."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from services.client_case.app import SPEC
    from services.client_case.commands import EraseClient
    from services.client_case.db import cases
    from services.client_case.handlers import Context, Keys, NotFound, execute
    from services.client_case.settings import Settings
    from shared.runtime import DataRuntime

    if (client_id is None) == (case is None):
        raise typer.BadParameter("give either a client id or --case CASE_ID")

    async def run() -> tuple[str, list[str]]:
        settings = Settings()
        runtime = DataRuntime(SPEC, settings)
        keys = Keys(settings.key_ring, settings.pseudonym_key_bytes)
        try:
            async with runtime.sessions.begin() as session:
                person = client_id
                if case is not None:
                    person = (
                        await session.execute(
                            select(cases.c.client_id).where(cases.c.case_id == case)
                        )
                    ).scalar_one_or_none()
                    if person is None:
                        raise NotFound(f"no case {case}")
                assert person is not None
                today = datetime.now(UTC).date()
                ctx = Context(session, runtime.outbox, keys, today, settings.routing_for)
                closed: list[str] = await execute(ctx, EraseClient(person))
                return person, closed
        finally:
            await runtime.engine.dispose()

    try:
        erased, closed = asyncio.run(run())
    except NotFound as exc:
        typer.echo(f"no client {client_id}" if case is None else str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client {erased}: erased; {len(closed)} open case(s) closed as withdrawn")


@app.command("keygen")
def keygen(
    master_key_only: Annotated[
        str | None,
        typer.Option(
            "--master-key-only",
            metavar="ID",
            help="Print only a new master key with this id (`ID:base64`), for a rotation.",
        ),
    ] = None,
) -> None:
    """Print new production keys (put them in a Kubernetes Secret, never in a file here)."""
    from shared.security.encryption import generate_service_keypair

    if master_key_only is not None:
        if not master_key_only or any(c in master_key_only for c in ":, "):
            raise typer.BadParameter("an id without ':', ',' or spaces, e.g. m2")
        typer.echo(f"{master_key_only}:{base64.b64encode(os.urandom(32)).decode()}")
        return
    private, public = generate_service_keypair()
    typer.echo(f"PULIH_PSEUDONYM_KEY={base64.b64encode(os.urandom(32)).decode()}")
    typer.echo(f"PULIH_MASTER_KEYS=m1:{base64.b64encode(os.urandom(32)).decode()}")
    typer.echo("PULIH_CURRENT_MASTER_KEY=m1")
    typer.echo(f"PULIH_IDENTITY_PRIVATE_KEY={private}")
    typer.echo(f"# public key for provinces: {public}")


@app.command("rewrap-keys")
def rewrap_keys() -> None:
    """Master key rotation: re-wrap every person's data key under PULIH_CURRENT_MASTER_KEY
    (PULIH_MASTER_KEYS must still hold the old masters). Identities are not re-encrypted and
    stay readable throughout; afterwards no row needs an old master and it may be removed."""
    from services.client_case.db import clients
    from services.client_case.settings import Settings
    from shared.security.rotation import rewrap_in_database

    settings = Settings()
    done = asyncio.run(
        rewrap_in_database(
            settings.resolved_database_url, clients, clients.c.client_id, settings.key_ring
        )
    )
    typer.echo(done.summary(settings.current_master_key))
