"""A service's FastAPI app running in this process, with its lifespan (connections, relay,
consumers) against the real broker and store, reached through httpx without a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.support.infra import Infra


@asynccontextmanager
async def running_app(
    create_app: Callable[[], FastAPI],
    infra: Infra,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    **env: str,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    for key, value in {
        "KITFLOW_ENV": "test",
        "KITFLOW_NAMESPACE": namespace,
        "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KITFLOW_STORE_URL": infra.store_url,
        "KITFLOW_OUTBOX_SWEEP_INTERVAL_S": "0.3",
        # Short job leases (ADR 0028): an app dropped without its lifespan's end hands its
        # jobs over within 3.5 s.
        "KITFLOW_JOB_LEASE_S": "3",
        "KITFLOW_JOB_LEASE_RENEW_S": "0.5",
        "KITFLOW_KAFKA_RETRY_BACKOFF_MS": "20",
        **env,
    }.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield app, client
