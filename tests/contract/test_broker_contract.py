"""The broker contract: what kitflow needs of Kafka, proven against the real one.

Runs against whatever `tests/support/infra.py` provides, like the store contract suite: the local
Apache Kafka in CI and `make test`, testcontainers' Kafka where a Docker engine exists, or the
broker `deploy/local/smoke.py` points it at. The consumer runner and the relay rest on these:
declared topics only, an idempotent producer, and a consumer group that resumes where its last
commit left it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import InvalidReplicationFactorError, KafkaError
from kitflow_shared.topics import ALL_TOPICS, ensure_topics

from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.infra

PARTITIONS = 3
RECORDS = 100


@pytest.fixture
async def admin(infra: Infra) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=10000)
    await client.start()
    yield client
    await client.close()


@pytest.fixture
async def topic(admin: AIOKafkaAdminClient, namespace: str) -> AsyncIterator[str]:
    name = f"{namespace}.contract"
    await admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    yield name
    if name in await admin.list_topics():
        await admin.delete_topics([name])


def _group_member(infra: Infra, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def test_declared_topics_are_created_with_their_partitions(
    infra: Infra, admin: AIOKafkaAdminClient, namespace: str
) -> None:
    declared = {spec.qualified(namespace): spec.partitions for spec in ALL_TOPICS}
    # Deleted at the end: against a running `make run` broker (smoke.py) nothing is left behind.
    try:
        await ensure_topics(infra.kafka_bootstrap, namespace)
        described = await admin.describe_topics(list(declared))
    finally:
        await admin.delete_topics([n for n in await admin.list_topics() if n in declared])
    assert {d["topic"]: len(d["partitions"]) for d in described} == declared


async def test_a_topic_the_broker_refuses_raises_the_brokers_reason(
    infra: Infra, admin: AIOKafkaAdminClient, namespace: str
) -> None:
    # One broker cannot hold three replicas. The refusal comes back in the answer, not as an
    # exception: read, it names the reason, instead of "not visible after creation".
    with pytest.raises(InvalidReplicationFactorError, match="replication factor"):
        await ensure_topics(infra.kafka_bootstrap, namespace, 3, ready_timeout_s=1)
    assert not [n for n in await admin.list_topics() if n.startswith(f"{namespace}.")]


async def test_a_send_to_an_undeclared_topic_is_refused(
    infra: Infra, admin: AIOKafkaAdminClient, namespace: str
) -> None:
    # auto.create.topics.enable=false in every deployment: a typo in a topic name fails loudly
    # instead of creating a topic nobody reads.
    undeclared = f"{namespace}.undeclared"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait(undeclared, b"x")
    finally:
        await producer.stop()
    assert undeclared not in await admin.list_topics()


async def test_a_group_member_resumes_after_the_last_commit_of_its_group(
    infra: Infra, topic: str, namespace: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
            for i in range(RECORDS)
        ]
        acked = [await future for future in sent]
        assert len(acked) == RECORDS

        group = f"{namespace}.contract-group"
        first = _group_member(infra, topic, group)
        await first.start()
        try:
            seen: list[bytes] = []
            await eventually(
                lambda: _take(first, seen), lambda n: n >= RECORDS, what="every record consumed"
            )
            await first.commit()
            committed = [await first.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)]
        finally:
            await first.stop()
        assert sorted(seen) == sorted(f"v{i}".encode() for i in range(RECORDS))
        assert sum(c or 0 for c in committed) == RECORDS

        # One new record, then an end marker on every partition: whatever a new member of the
        # group reads before the markers is what it resumed with.
        await producer.send_and_wait(topic, key=b"k-extra", value=b"extra")
        for partition in range(PARTITIONS):
            await producer.send_and_wait(topic, value=b"end", partition=partition)
    finally:
        await producer.stop()

    second = _group_member(infra, topic, group)
    await second.start()
    try:
        resumed: list[bytes] = []
        await eventually(
            lambda: _take(second, resumed),
            lambda _: resumed.count(b"end") == PARTITIONS,
            what="the end marker on every partition",
        )
    finally:
        await second.stop()
    assert [v for v in resumed if v != b"end"] == [b"extra"]


async def test_a_deleted_topic_is_gone(admin: AIOKafkaAdminClient, topic: str) -> None:
    await admin.delete_topics([topic])
    await eventually(admin.list_topics, lambda names: topic not in names, what="topic deleted")


async def _take(consumer: AIOKafkaConsumer, into: list[bytes]) -> int:
    for records in (await consumer.getmany(timeout_ms=500)).values():
        into.extend(r.value for r in records)
    return len(into)
