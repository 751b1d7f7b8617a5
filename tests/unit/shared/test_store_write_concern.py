"""Every service's store client asks for writes that survive the loss of a member: journaled and
acknowledged by a majority (real MongoDB; the embedded store accepts and ignores the request)."""

from __future__ import annotations

import pytest
from kitflow_shared.settings import StoreSettings
from kitflow_shared.store import create_client
from pydantic import ValidationError
from pymongo import WriteConcern


async def test_the_store_client_asks_for_journaled_majority_writes_by_default() -> None:
    client = create_client(StoreSettings(), "kitflow-test")
    try:
        assert client.write_concern == WriteConcern(w="majority", j=True, wtimeout=10_000)
    finally:
        await client.close()


async def test_the_write_concern_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITFLOW_STORE_WRITE_CONCERN", "2")
    monkeypatch.setenv("KITFLOW_STORE_WRITE_JOURNAL", "false")
    monkeypatch.setenv("KITFLOW_STORE_WRITE_TIMEOUT_MS", "2500")
    client = create_client(StoreSettings(), "kitflow-test")
    try:
        assert client.write_concern == WriteConcern(w=2, j=False, wtimeout=2500)
    finally:
        await client.close()


async def test_the_settings_override_a_write_concern_in_the_url() -> None:
    settings = StoreSettings(url="mongodb://127.0.0.1:27017/?w=1&journal=false")
    client = create_client(settings, "kitflow-test")
    try:
        assert client.write_concern == WriteConcern(w="majority", j=True, wtimeout=10_000)
    finally:
        await client.close()


@pytest.mark.parametrize("value", ["0", "-1", "most", ""])
def test_unacknowledged_or_unknown_write_concerns_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("KITFLOW_STORE_WRITE_CONCERN", value)
    with pytest.raises(ValidationError, match="write_concern"):
        StoreSettings()
