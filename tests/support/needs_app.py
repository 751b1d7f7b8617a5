"""The needs app in this process, against the real broker and store, with its workers running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kitflow_needs.bootstrap import create_app
from kitflow_needs.handlers.ports import NeedsServices
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from tests.support.infra import Infra

Document = dict[str, Any]


@dataclass
class NeedsApp:
    client: httpx.AsyncClient
    app: FastAPI
    needs: AsyncCollection[Document]

    @property
    def services(self) -> NeedsServices:
        services: NeedsServices = self.app.state.services
        return services


@asynccontextmanager
async def running_needs(
    infra: Infra,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[Document],
) -> AsyncIterator[NeedsApp]:
    for name, value in {
        "KITFLOW_ENV": "test",
        "KITFLOW_NAMESPACE": namespace,
        "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KITFLOW_STORE_URL": infra.store_url,
        "KITFLOW_OUTBOX_SWEEP_INTERVAL_S": "0.5",
        "KITFLOW_KAFKA_RETRY_BACKOFF_MS": "20",
        "KITFLOW_KAFKA_MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    database = f"{namespace}_kitflow_needs"
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://needs", timeout=120
            ) as client:
                yield NeedsApp(client, app, store_client[database]["needs"])
    finally:
        await store_client.drop_database(database)
