"""Fixtures shared by every tier. Infrastructure starts once per run, and only if a test asks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import ensure_topics
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra, start_infra

Document = dict[str, object]


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    running, stop = start_infra()
    try:
        yield running
    finally:
        stop()


@pytest.fixture
def namespace() -> str:
    """A fresh namespace: its own topics and databases, invisible to every other test."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka_settings(infra: Infra) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, retry_backoff_ms=20)


@pytest.fixture
async def topics(
    infra: Infra, namespace: str, store_client: AsyncMongoClient[Document]
) -> AsyncIterator[str]:
    await ensure_topics(infra.kafka_bootstrap, namespace)
    yield namespace
    # The services' databases of this namespace: dropped, so a long run's data does not pile
    # up in the (in-memory) store.
    for name in await store_client.list_database_names():
        if name.startswith(f"{namespace}_"):
            await store_client.drop_database(name)


@pytest.fixture(scope="session")
async def store_client(infra: Infra) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.store_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    yield client
    await client.close()


@pytest.fixture
async def db(store_client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield store_client[name]
    await store_client.drop_database(name)


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka_settings, client_id="kitflow-tests")
    await p.start()
    yield p
    await p.stop()
