"""`pulih client-case …`: erasure and key generation."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Annotated

import typer

app = typer.Typer(help="Clients, screening and cases.", no_args_is_help=True)


@app.command("erase")
def erase(client_id: Annotated[str, typer.Argument(help="The client's id.")]) -> None:
    """Right to erasure: the person behind this client is erased in every unit. Their
    identity can never be read again, their NIK resolves to nothing, their open cases are
    closed as withdrawn (the running service publishes the events); the events, which carry
    only a random pseudonym, stay valid."""
    from datetime import UTC, datetime

    from services.client_case.app import SPEC
    from services.client_case.commands import EraseClient
    from services.client_case.handlers import Context, Keys, NotFound, execute
    from services.client_case.settings import Settings
    from shared.runtime import Runtime

    async def run() -> list[str]:
        settings = Settings()
        runtime = Runtime(SPEC, settings)
        assert runtime.engine is not None and runtime.sessions and runtime.outbox
        keys = Keys(settings.key_ring, settings.pseudonym_key_bytes)
        try:
            async with runtime.sessions.begin() as session:
                today = datetime.now(UTC).date()
                ctx = Context(session, runtime.outbox, keys, today, settings.routing_for)
                closed: list[str] = await execute(ctx, EraseClient(client_id))
                return closed
        finally:
            await runtime.engine.dispose()

    try:
        closed = asyncio.run(run())
    except NotFound:
        typer.echo(f"no client {client_id}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client {client_id}: erased; {len(closed)} open case(s) closed as withdrawn")


@app.command("keygen")
def keygen() -> None:
    """Print new production keys (put them in a Kubernetes Secret, never in a file here)."""
    from shared.security.encryption import generate_service_keypair

    private, public = generate_service_keypair()
    typer.echo(f"PULIH_PSEUDONYM_KEY={base64.b64encode(os.urandom(32)).decode()}")
    typer.echo(f"PULIH_MASTER_KEYS=m1:{base64.b64encode(os.urandom(32)).decode()}")
    typer.echo("PULIH_CURRENT_MASTER_KEY=m1")
    typer.echo(f"PULIH_IDENTITY_PRIVATE_KEY={private}")
    typer.echo(f"# public key for provinces: {public}")
