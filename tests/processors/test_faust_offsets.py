"""OffsetGuard on the real Kafka: records a Faust stream skips or leaves behind are read back, none handled twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faust.types import Message

from wirewatch.bus.kafka import PartitionReader, TopicSpec, ensure_topics
from wirewatch.processors.faust_offsets import OffsetGuard, as_message

pytestmark = pytest.mark.kafka
RECORDS = 10


class Recorder:
    """What the guard handled and acknowledged, by offset."""

    def __init__(self) -> None:
        self.handled: list[Message] = []
        self.batches: list[list[int]] = []
        self.acked: list[int] = []

    async def handle(self, batch: list[Message]) -> None:
        self.handled.extend(batch)
        self.batches.append([m.offset for m in batch])

    def ack(self, msg: Message) -> None:
        self.acked.append(msg.offset)

    @property
    def offsets(self) -> list[int]:
        return [m.offset for m in self.handled]


@pytest.fixture
async def topic(kafka_bootstrap: str, topic_prefix: str) -> str:
    name = f"{topic_prefix}.guarded"
    await ensure_topics(kafka_bootstrap, [TopicSpec(name, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(RECORDS):
            await producer.send_and_wait(name, f"r{n}".encode(), key=b"k", partition=0)
    finally:
        await producer.stop()
    return name


@pytest.fixture
async def reader(kafka_bootstrap: str) -> AsyncIterator[PartitionReader]:
    reader = PartitionReader(kafka_bootstrap)
    yield reader
    await reader.close()


@pytest.fixture
async def records(reader: PartitionReader, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    return await reader.read(TopicPartition(topic, 0), 0, RECORDS)


def guard_for(reader: PartitionReader, group: str, rec: Recorder, clock: list[float] | None = None) -> OffsetGuard:
    now = clock if clock is not None else [0.0]
    return OffsetGuard(reader, group, rec.handle, rec.ack, stall_seconds=5.0, clock=lambda: now[0])


async def test_the_reader_returns_a_range_in_offset_order(records: list[ConsumerRecord[bytes, bytes]]) -> None:
    assert [(r.offset, r.value) for r in records] == [(n, f"r{n}".encode()) for n in range(RECORDS)]


async def test_skipped_offsets_are_read_and_handled_before_the_event_after_them(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], unique: str
) -> None:
    rec = Recorder()
    guard = guard_for(reader, f"g-{unique}", rec)
    for n in (0, 1, 2, 5, 6):
        await guard.process([as_message(records[n])])
    assert rec.offsets == [0, 1, 2, 3, 4, 5, 6]
    assert [m.value for m in rec.handled] == [f"r{n}".encode() for n in range(7)]
    assert rec.acked == [3, 4]  # the stream's own events are acknowledged by Faust
    assert guard.repaired == 2


async def test_a_batch_with_a_gap_is_handled_as_one_list_with_the_skipped_records_in_place(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], unique: str
) -> None:
    rec = Recorder()
    guard = guard_for(reader, f"g-{unique}", rec)
    await guard.process([as_message(records[n]) for n in (0, 1)])
    await guard.process([as_message(records[n]) for n in (1, 2, 6, 7)])  # 1 again, 3..5 skipped
    assert rec.batches == [[0, 1], [2, 3, 4, 5, 6, 7]]
    assert rec.acked == [3, 4, 5]
    assert guard.repaired == 3


async def test_a_redelivered_offset_is_not_handled_twice(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], unique: str
) -> None:
    rec = Recorder()
    guard = guard_for(reader, f"g-{unique}", rec)
    for n in (0, 1, 2, 1, 2, 3):
        await guard.process([as_message(records[n])])
    assert rec.offsets == [0, 1, 2, 3]
    assert rec.acked == []


async def test_a_stalled_partition_is_read_once_it_has_waited_stall_seconds(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], topic: str, unique: str
) -> None:
    rec = Recorder()
    clock = [100.0]
    guard = guard_for(reader, f"g-{unique}", rec, clock)
    for n in range(4):
        await guard.process([as_message(records[n])])
    tp = TopicPartition(topic, 0)
    await guard.repair_stalled([tp])  # first seen behind: the stream may still bring them
    clock[0] = 104.9
    await guard.repair_stalled([tp])
    assert rec.offsets == [0, 1, 2, 3]
    clock[0] = 105.0
    await guard.repair_stalled([tp])
    assert rec.offsets == list(range(RECORDS))
    assert rec.acked == list(range(4, RECORDS))
    await guard.process([as_message(records[7])])  # the stream delivers them after all: skipped
    assert rec.offsets == list(range(RECORDS))


async def test_a_partition_that_keeps_up_is_never_repaired(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], topic: str, unique: str
) -> None:
    rec = Recorder()
    clock = [0.0]
    guard = guard_for(reader, f"g-{unique}", rec, clock)
    for n in range(RECORDS):
        await guard.process([as_message(records[n])])
        clock[0] += 10.0
        await guard.repair_stalled([TopicPartition(topic, 0)])
    assert rec.offsets == list(range(RECORDS))
    assert guard.repaired == 0


async def test_the_first_event_after_a_rebalance_is_checked_against_the_committed_offset(
    kafka_bootstrap: str, reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], topic: str, unique: str
) -> None:
    group = f"g-{unique}"
    tp = TopicPartition(topic, 0)
    committer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([tp])
        await committer.commit({tp: OffsetAndMetadata(2, "")})
    finally:
        await committer.stop()
    rec = Recorder()
    guard = guard_for(reader, group, rec)
    await guard.process([as_message(records[5])])
    assert rec.offsets == [2, 3, 4, 5]

    guard.forget()  # a rebalance: the stream restarts at the committed offset, as Faust seeks there
    await guard.process([as_message(records[2])])
    assert rec.offsets == [2, 3, 4, 5, 2]


async def test_without_a_committed_offset_the_first_event_is_where_the_partition_starts(
    reader: PartitionReader, records: list[ConsumerRecord[bytes, bytes]], unique: str
) -> None:
    rec = Recorder()
    guard = guard_for(reader, f"g-{unique}", rec)
    await guard.process([as_message(records[4])])
    assert rec.offsets == [4]
