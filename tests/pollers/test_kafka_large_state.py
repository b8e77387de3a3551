"""Poll state of a large feed in the compacted Kafka topic: one message, never stuck on its size.

The state keeps every id of the feed (issue #16 item 3); in Kafka a state is one
message of at most ~1 MB. Compressed, 20,000 URL ids fit whole; a larger state is
trimmed, least recently seen first, with one warning, instead of failing to publish
for ever (the source would be stuck).
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from aiokafka import TopicPartition

from wirewatch.bus.kafka import KafkaPublisher, PartitionReader, TopicSpec, decode, ensure_topics
from wirewatch.pollers.state import EntryState, KafkaStateStore, SourceState

pytestmark = pytest.mark.kafka

SLUGS = ["council-budget-vote", "storm-warning-coast", "border-trade-talks", "court-ruling-appeal"]


def url_ids(count: int) -> list[str]:
    """Ids shaped like a news site's: ~80 characters of URL after the source id."""
    return [
        f"big:https://www.example-news.com/world/2026/{n % 12 + 1:02d}/{n % 28 + 1:02d}/"
        f"{SLUGS[n % 4]}-{hashlib.md5(str(n).encode()).hexdigest()[:8]}-{n}"
        for n in range(count)
    ]


def state_of(ids: list[str]) -> SourceState:
    """Entries seen at distinct times: ids[0] least recently, ids[-1] most recently."""
    return SourceState(
        "big",
        entries={
            i: EntryState(hashlib.sha256(i.encode()).hexdigest()[:16], 1, 1_000_000.0 + n)
            for n, i in enumerate(ids)
        },
        saved_at=2_000_000.0,
    )


async def saved_then_read(bootstrap: str, topic: str, state: SourceState) -> SourceState:
    await ensure_topics(bootstrap, [TopicSpec(topic, 1, {"cleanup.policy": "compact"})])
    async with KafkaPublisher(bootstrap) as publisher:
        await asyncio.wait_for(KafkaStateStore(publisher, topic).save(state), timeout=30)
    reader = PartitionReader(bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        end = (await reader.end_offsets([tp]))[tp]
        [record] = await reader.read(tp, end - 1, end)
    finally:
        await reader.close()
    assert record.value is not None and len(record.value) < 1_048_576
    return SourceState.from_json(decode(record.value), "big")


async def test_kafka_state_of_20000_url_ids_is_one_message_whole(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    state = state_of(url_ids(20_000))
    read = await saved_then_read(kafka_bootstrap, f"{topic_prefix}.poller-state", state)
    assert read.entries == state.entries


async def test_kafka_state_too_large_for_a_message_keeps_the_most_recently_seen(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    ids = url_ids(60_000)
    read = await saved_then_read(kafka_bootstrap, f"{topic_prefix}.poller-state", state_of(ids))
    kept = len(read.entries)
    assert 20_000 < kept < 60_000
    assert set(read.entries) == set(ids[-kept:])
