"""A real Chromium (Debian's `chromium`, installed by deploy/bootstrap.sh) driven by
Playwright, and the dashboard behind a real gateway with a small programme published to Kafka.
Never `playwright install`: it downloads a browser build, which this project cannot."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from shared.messaging.broker import Topics
from tests.browser.demo import Dashboard, dashboard
from tests.markers import mark_integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PULIH_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Screenshots of the run: test-artifacts/browser/ (gitignored; CI keeps the folder)."""
    path = Path(os.environ.get("PULIH_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="module")
async def running(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Dashboard]:
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    async with dashboard(kafka_bootstrap, topics, tmp_path_factory.mktemp("dashboard")) as d:
        yield d


@pytest.fixture(scope="module")
def chromium() -> str:
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: run deploy/bootstrap.sh as root"
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # As root (CI, containers) Chromium's sandbox cannot start; a container's small
        # /dev/shm would crash its renderer.
        args = ["--disable-dev-shm-usage", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
        launched = await playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the real broker or databases (`pytest -m "not integration"`)."""
    mark_integration(items, Path(__file__).parent)
