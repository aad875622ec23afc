"""Every setting of every service as one table (name, services, default, effect), generated
from the settings classes into the README by `pulih docs` (`make docs`); a test fails when the
README's copy is stale."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic_core import PydanticUndefined

SERVICES = ("registry", "client_case", "scheduling", "reporting", "gateway")
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def _default(field: Any) -> str:
    if field.default is PydanticUndefined:
        return "(computed)" if field.default_factory else ""
    value = field.default
    if isinstance(value, SecretStr):
        return "development value (refused in production)"
    if isinstance(value, Path):
        return f"`{value.relative_to(Path(__file__).resolve().parents[1])}`"
    if value is None or value == "" or value == frozenset():
        return "—"
    return f"`{getattr(value, 'value', value)}`"


def settings_table() -> str:
    rows: dict[str, dict[str, Any]] = {}
    for service in SERVICES:
        settings = importlib.import_module(f"services.{service}.settings").Settings
        for name, field in settings.model_fields.items():
            if name == "service_name":
                continue
            alias = field.validation_alias
            names = alias.choices if isinstance(alias, AliasChoices) else [f"PULIH_{name.upper()}"]
            row = rows.setdefault(
                " / ".join(f"`{n}`" for n in names),
                {"services": [], "default": _default(field), "effect": field.description or ""},
            )
            row["services"].append(service.replace("_", "-"))
    lines = ["| variable | services | default | effect |", "|---|---|---|---|"]
    for variable, row in rows.items():
        who = "all" if len(row["services"]) == len(SERVICES) else ", ".join(row["services"])
        effect = row["effect"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {variable} | {who} | {row['default']} | {effect} |")
    return "\n".join(lines)


def with_settings_table(readme: str) -> str:
    """The README with its generated settings table replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"
