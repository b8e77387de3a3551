"""The real Kafka broker: produce and consume through aiokafka with our adapter."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from wirewatch.bus.base import decode
from wirewatch.bus.kafka import KafkaPublisher, TopicSpec, ensure_topics, standard_topics
from wirewatch.core.config import Settings
from wirewatch.core.schemas import validate

pytestmark = pytest.mark.kafka


def raw_item(n: int, source: str = "wire") -> dict:
    return {
        "id": f"{source}:{n}",
        "source": {"id": source, "name": source.title()},
        "url": f"https://news.example/{source}/{n}",
        "title": f"Story {n}",
        "body": f"Body of story {n}.",
        "published_at": "2026-11-27T10:00:00Z",
    }


async def consume(bootstrap: str, topic: str, count: int, group: str | None = None) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
        if group:
            await consumer.commit()
    finally:
        await consumer.stop()
    return records


async def test_kafka_standard_topics_are_created_with_their_configs(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = Settings(topic_prefix=topic_prefix, topic_partitions=3)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    await ensure_topics(kafka_bootstrap, standard_topics(settings))  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.raw_topic, settings.dead_letter_topic])
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        assert partitions == {settings.raw_topic: 3, settings.dead_letter_topic: 1}
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.poller_state_topic)]
        )
        entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_kafka_publisher_round_trips_schema_valid_items_in_key_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.raw"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, 3)])
    items = [raw_item(n, "wire") for n in range(20)] + [raw_item(n, "blog") for n in range(20)]
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        await publisher.publish_many(topic, [(i["source"]["id"], i) for i in items])
    records = await consume(kafka_bootstrap, topic, len(items))
    assert len(records) == 40
    for record in records:
        validate("raw_item", decode(record.value))
    # One key -> one partition -> the source's items stay in publish order.
    for source in ("wire", "blog"):
        mine = [decode(r.value)["id"] for r in records if r.key == source.encode()]
        assert mine == [f"{source}:{n}" for n in range(20)]
        assert len({r.partition for r in records if r.key == source.encode()}) == 1


async def test_kafka_consumer_group_resumes_after_committed_offset(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.resume"
    group = f"{topic_prefix}-group"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, 1)])
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        for n in range(5):
            await publisher.publish(topic, raw_item(n), key="wire")
    first = await consume(kafka_bootstrap, topic, 5, group=group)
    assert [decode(r.value)["id"] for r in first] == [f"wire:{n}" for n in range(5)]
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        for n in range(5, 8):
            await publisher.publish(topic, raw_item(n), key="wire")
    second = await consume(kafka_bootstrap, topic, 3, group=group)
    assert [decode(r.value)["id"] for r in second] == ["wire:5", "wire:6", "wire:7"]


def test_decode_rejects_broken_json_and_bad_utf8() -> None:
    with pytest.raises(ValueError):
        decode(b"{not json")
    with pytest.raises(ValueError):
        decode(b"\xff\xfe{}")
