"""Reading a topic from its beginning (or given offsets) up to where it ends now, outside any
consumer group: for tools (the dead-letter redrive, rebuilds) and tests."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

# aiokafka ships no type information: a ConsumerRecord[bytes, bytes].
Record = Any


async def partitions_of(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions (none when the topic does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"])
        for t in described
        if not t.get("error_code")
        for p in t["partitions"]
    ]


async def read_to_end(
    bootstrap_servers: str, topic: str, start: dict[int, int] | None = None
) -> list[Record]:
    """Every record of `topic` from `start` (partition -> offset; the beginning where not
    given) up to the end of each partition when called, in offset order per partition."""
    partitions = await partitions_of(bootstrap_servers, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        firsts = await consumer.beginning_offsets(partitions)
        remaining = set()
        for tp in partitions:
            offset = max((start or {}).get(tp.partition, 0), firsts[tp])
            consumer.seek(tp, offset)
            if offset < ends[tp]:
                remaining.add(tp)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, part in batch.items():
                records.extend(r for r in part if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return records
