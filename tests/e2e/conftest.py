from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.services import ServiceProcess


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    """Every service process a test starts is stopped at its end, whatever happened."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.stop()
