"""`pulih run` end to end: every test here needs the real broker and databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.markers import mark_integration


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_integration(items, Path(__file__).parent)
