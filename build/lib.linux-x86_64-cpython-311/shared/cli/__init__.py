"""`pulih`: the one front door for people and scripts. Later issues add their own commands."""

from __future__ import annotations

import importlib

from shared.cli import operations, platform  # noqa: F401  (their commands join `app`)
from shared.cli.common import SERVICES, app


def _add_service_commands() -> None:
    """Each service may bring its own sub-commands in `services/<pkg>/cli.py`."""
    for name, package in SERVICES.items():
        try:
            module = importlib.import_module(f"{package}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.cli":
                raise
            continue
        app.add_typer(module.app, name=name)


_add_service_commands()


def main() -> None:
    app()
