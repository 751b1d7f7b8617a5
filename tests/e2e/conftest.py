from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Playwright, async_playwright

from tests.support.browser import CHROMIUM, Gateway, seed_two_needs, start_services
from tests.support.infra import Infra
from tests.support.services import ServiceProcess


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    """Every service process a test starts is stopped at its end, whatever happened."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
async def gateway(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> AsyncIterator[Gateway]:
    """The four services as processes, seeded with 150 NFI kits (100 in Mopti, 50 in Bamako)
    and two validated needs (NRC at Sévaré 2: 120 households; DRC at Gao camp: 80)."""
    url = await start_services(infra, topics, processes)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await seed_two_needs(client)
        yield Gateway(url, client)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    return CHROMIUM


@pytest.fixture
async def playwright(chromium: Path) -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running
