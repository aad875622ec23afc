"""The README's table of settings is the settings classes' own: every variable a service
reads is there, with its default and effect, and a stale copy fails here (`make docs`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from shared.settings_doc import SERVICES, with_settings_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_lists_every_setting_as_the_code_has_it() -> None:
    readme = README.read_text()
    assert with_settings_table(readme) == readme, "stale settings table: run `make docs`"
    for service in SERVICES:
        settings = importlib.import_module(f"services.{service}.settings").Settings
        for name, field in settings.model_fields.items():
            if name != "service_name":
                assert f"PULIH_{name.upper()}" in readme or field.validation_alias, name
                assert field.description, f"{service}: {name} has no description"
