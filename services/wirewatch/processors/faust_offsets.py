"""Every record of an agent's partitions handled once by a worker: no offset skipped, none left behind.

faust-streaming 0.15 can lose records it fetched while a worker recovers
after a rebalance: it resumes the stream partitions before seeking them to
the committed offsets, and its fetch loop marks a record read even when the
record never reached the agent (the race of faust-streaming/faust#596).
Measured here with a worker SIGKILLed and restarted under CPU load, 2 runs in
40: once a single record missing in the middle of a partition, once the
partition's whole tail left unprocessed while the worker reported ready.
Faust then also stops committing that partition.

The raw and dedupe topics are neither compacted nor transactional, so every
offset holds a record and the next offset to handle is always known.
:class:`OffsetGuard` keeps it per partition and repairs from Kafka directly:

Agents hand it their events a batch at a time (``stream.take_events``); the
handler gets one list per call, in offset order per partition:

- an event past the expected offset: the records in between are read and handled first;
- an event before it: this worker handled it already, so it is skipped;
- a partition with records past the expected offset and no progress for
  ``stall_seconds``: they are read and handled (:meth:`OffsetGuard.repair_stalled`).

Repaired records are acknowledged to Faust, so its commits move on. The
first event of a partition after a rebalance is checked against the group's
committed offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from faust.types import TP, Message

from wirewatch.bus.kafka import PartitionReader
from wirewatch.core.logging import get_logger

Handler = Callable[[list[Message]], Awaitable[None]]
REPAIR_BATCH = 1000
log = get_logger("processor")


def as_message(record: ConsumerRecord[bytes, bytes]) -> Message:
    """The Faust message for a record read directly (Faust keeps timestamps in seconds)."""
    timestamp = record.timestamp / 1000.0 if record.timestamp is not None else None
    return Message(
        record.topic, record.partition, record.offset, timestamp,  # type: ignore[arg-type]
        record.timestamp_type, record.headers, record.key, record.value, record.checksum,
        tp=TP(record.topic, record.partition),
    )


class OffsetGuard:
    """Runs ``handle`` on the records of the partitions it sees, in offset order, each once per worker.

    ``ack`` tells Faust that a record read directly is done (``app.consumer.ack``).
    """

    def __init__(
        self,
        reader: PartitionReader,
        group_id: str,
        handle: Handler,
        ack: Callable[[Message], Any],
        *,
        stall_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.group_id = group_id
        self.handle = handle
        self.ack = ack
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.repaired = 0  # records read directly, for tests and logs
        self._next: dict[TopicPartition, int] = {}
        self._behind_since: dict[TopicPartition, float] = {}
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """After a rebalance: partitions may have moved, so expectations restart from committed offsets."""
        self._next.clear()
        self._behind_since.clear()

    async def process(self, messages: Sequence[Message]) -> None:
        """Handle a batch of events from the stream, with any records the stream skipped before them."""
        async with self._lock:
            todo: list[Message] = []
            repaired: list[Message] = []
            expect: dict[TopicPartition, int | None] = {}
            for message in messages:
                tp = TopicPartition(message.topic, message.partition)
                if tp not in expect:
                    if tp in self._next:
                        expect[tp] = self._next[tp]
                    else:  # the partition's first event since a rebalance: where the group stopped
                        committed = (await self.reader.committed(self.group_id, [tp])).get(tp)
                        expect[tp] = committed if committed is None or message.offset >= committed else None
                expected = expect[tp]
                if expected is not None and message.offset < expected:
                    continue  # this worker handled it already (a re-delivery after a seek, or a repair)
                if expected is not None and message.offset > expected:
                    missing = await self._read(tp, expected, message.offset, "stream skipped offsets")
                    # unreadable now: left unacknowledged, so Faust commits no further and a restart replays them
                    todo.extend(missing or ())
                    repaired.extend(missing or ())
                todo.append(message)
                expect[tp] = message.offset + 1
            if todo:
                await self.handle(todo)
            self._done(todo, repaired)

    async def repair_stalled(self, partitions: Iterable[TopicPartition]) -> None:
        """Handle records the stream has left behind for ``stall_seconds`` (call it from a timer)."""
        partitions = list(partitions)
        if not partitions:
            return
        ends = await self.reader.end_offsets(partitions)
        unknown = [tp for tp in partitions if tp not in self._next]
        committed = await self.reader.committed(self.group_id, unknown) if unknown else {}
        now = self.clock()
        for tp in partitions:
            async with self._lock:
                expected = self._next.get(tp, committed.get(tp))
                end = ends.get(tp)
                if expected is None or end is None or end <= expected:
                    self._behind_since.pop(tp, None)
                    continue
                since = self._behind_since.setdefault(tp, now)
                if now - since < self.stall_seconds:
                    continue
                await self._repair(tp, expected, min(end, expected + REPAIR_BATCH), "stream stalled")
                self._behind_since[tp] = self.clock()

    async def _repair(self, tp: TopicPartition, start: int, stop: int, why: str) -> None:
        """Read ``start..stop-1`` from Kafka and handle it (caller holds the lock)."""
        records = await self._read(tp, start, stop, why)
        if records is None:
            return
        if records:
            await self.handle(records)
        self._done(records, records)
        self._next[tp] = stop  # the read reached stop: offsets it did not return no longer exist

    async def _read(self, tp: TopicPartition, start: int, stop: int, why: str) -> list[Message] | None:
        """Records ``start..stop-1`` as Faust messages; None (logged) when Kafka cannot give them now."""
        log.warning(f"{why}; reading them from Kafka", topic=tp.topic, partition=tp.partition, first=start, last=stop - 1)
        try:
            records = await self.reader.read(tp, start, stop)
        except (TimeoutError, OSError) as exc:
            # not acknowledged, so Faust does not commit past them: a restart replays them
            log.error("could not read skipped offsets; they replay after a restart", topic=tp.topic,
                      partition=tp.partition, first=start, last=stop - 1, reason=str(exc))
            return None
        return [as_message(record) for record in records]

    def _done(self, handled: list[Message], repaired: list[Message]) -> None:
        """Handled records move the expected offsets on; repaired ones are acknowledged to Faust."""
        for message in handled:
            tp = TopicPartition(message.topic, message.partition)
            self._next[tp] = message.offset + 1
            self._behind_since.pop(tp, None)
        for message in repaired:
            self.ack(message)
        self.repaired += len(repaired)
