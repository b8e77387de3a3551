"""Kafka adapter: JSON messages, idempotent acks=all producer, topic set-up.

Everything that talks to Kafka goes through here, so serialisation and
delivery guarantees are decided once, and so is a broker that cannot be
reached: each client connects inside :func:`reaching`, which turns aiokafka's
``KafkaConnectionError`` into the one-line :class:`~wirewatch.core.reach.Unreachable`
naming ``WIREWATCH_KAFKA_BOOTSTRAP``, and closes what it opened, so nothing is
left for the garbage collector to report (``Unclosed AIOKafkaConsumer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaConnectionError,
    TopicAlreadyExistsError,
)
from aiokafka.partitioner import murmur2

from wirewatch.bus.base import Message, decode, encode
from wirewatch.core.config import Settings
from wirewatch.core.logging import get_logger, library_failures_muted
from wirewatch.core.metrics import CONSUMER_LAG
from wirewatch.core.reach import Unreachable, failure_of, host_port
from wirewatch.core.retry import Backoff

#: The setting an unreachable broker's line names.
BOOTSTRAP_SETTING = "WIREWATCH_KAFKA_BOOTSTRAP"


async def kafka_unreachable(bootstrap: str) -> Unreachable:
    """The one line for a bootstrap that failed, with the reason a TCP connect to each address gives."""
    addresses = [host_port(part, 9092) for part in bootstrap.split(",") if part.strip()]
    reason = await failure_of(addresses) or "it accepts connections but sent no Kafka cluster metadata"
    return Unreachable("Kafka", BOOTSTRAP_SETTING, bootstrap, reason)


@contextlib.asynccontextmanager
async def reaching(bootstrap: str) -> AsyncIterator[None]:
    """Connect to Kafka inside this block: a failure is :class:`Unreachable`, aiokafka's own report of it muted."""
    with library_failures_muted():
        try:
            yield
        except KafkaConnectionError:
            raise await kafka_unreachable(bootstrap) from None


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    config: dict[str, str] = field(default_factory=dict)


def standard_topics(settings: Settings) -> list[TopicSpec]:
    """The topics the pipeline needs; poller state is compacted (latest per key wins)."""
    p = settings.topic_partitions
    return [
        TopicSpec(settings.raw_topic, p),
        TopicSpec(settings.processed_topic, p),
        TopicSpec(settings.alerts_topic, p),
        TopicSpec(settings.dead_letter_topic, 1),
        TopicSpec(settings.poller_state_topic, p, {"cleanup.policy": "compact"}),
    ]


async def ensure_topics(bootstrap: str, topics: Iterable[TopicSpec]) -> None:
    """Create missing topics; existing ones are left as they are (the first contact of every service)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        async with reaching(bootstrap):
            await admin.start()
            existing = set(await admin.list_topics())
            new = [
                NewTopic(t.name, num_partitions=t.partitions, replication_factor=1, topic_configs=t.config)
                for t in topics
                if t.name not in existing
            ]
            if new:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
    finally:
        await admin.close()


def make_producer(bootstrap: str, **kwargs: Any) -> AIOKafkaProducer:
    """Idempotent, acks=all producer: a retried send is never written twice."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "compression_type": None,
        "request_timeout_ms": 30000,
    }
    options.update(kwargs)
    return AIOKafkaProducer(**options)


class KafkaPublisher:
    """Publish JSON messages and wait for the broker's acknowledgement."""

    def __init__(self, bootstrap: str, **producer_options: Any) -> None:
        self._bootstrap = bootstrap
        self._producer = make_producer(bootstrap, **producer_options)
        self._started = False

    async def start(self) -> None:
        """Connect (again after an :class:`Unreachable`; a no-op once connected)."""
        if not self._started:
            async with reaching(self._bootstrap):
                await self._producer.start()
            self._started = True

    async def stop(self) -> None:
        """Flush and close; also releases a producer that never connected."""
        await self._producer.stop()

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        """Send one message; returns only once Kafka acknowledged it (acks=all)."""
        await self._producer.send_and_wait(topic, encode(value), key=key.encode() if key else None)

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        """Send a batch concurrently, returning once every message is acknowledged."""
        futures = [
            await self._producer.send(topic, encode(v), key=k.encode() if k else None)
            for k, v in messages
        ]
        for fut in futures:
            await fut

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _decoded(raw: bytes | None) -> Any:
    """The JSON value, or ``None`` when the bytes are not JSON (the raw bytes stay on the Message)."""
    try:
        return decode(raw)
    except ValueError:
        return None


class KafkaSubscriber:
    """Consumer-group member with manual commits (implements ``bus.base.Subscriber``).

    Offsets are committed only when the caller says its work is durable
    (``commit()``), so a crash replays instead of losing messages. Each batch
    also refreshes ``wirewatch_consumer_lag{group,topic,partition}``.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        *,
        auto_offset_reset: str = "earliest",
        **consumer_options: Any,
    ) -> None:
        self.group_id = group_id
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            **consumer_options,
        )
        self._pending: dict[TopicPartition, int] = {}
        self._started = False
        self._log = get_logger("bus.kafka")

    async def start(self) -> None:
        """Connect and join the group (again after an :class:`Unreachable`; a no-op once connected)."""
        if not self._started:
            async with reaching(self._bootstrap):
                await self._consumer.start()
            self._started = True

    async def stop(self) -> None:
        """Leave the group and close; also releases a consumer that never connected."""
        await self._consumer.stop()

    async def batches(self, max_records: int = 500, timeout_ms: int = 1000) -> AsyncIterator[list[Message]]:
        while True:
            data = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
            await self._export_lag()
            if not data:
                continue
            batch: list[Message] = []
            for tp, records in data.items():
                batch.extend(self._message(r) for r in records)
                self._pending[tp] = records[-1].offset + 1
            yield batch

    async def commit(self) -> None:
        """Commit what was yielded; partitions lost in a rebalance are skipped (they replay)."""
        if not self._pending:
            return
        assigned = self._consumer.assignment()
        offsets = {tp: off for tp, off in self._pending.items() if tp in assigned}
        self._pending.clear()
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            self._log.warning("commit failed; messages will be redelivered", error=str(exc))

    @staticmethod
    def _message(record: ConsumerRecord[bytes, bytes]) -> Message:
        raw = record.value if record.value is not None else b""
        return Message(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", errors="replace") if record.key is not None else None,
            value=_decoded(record.value),
            raw=raw,
            timestamp_ms=record.timestamp,
        )

    async def _export_lag(self) -> None:
        """Lag = log end (highwater) - next position, per assigned partition."""
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:
                continue
            CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(max(0, highwater - position))


async def topic_partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` that exists (missing topics contribute none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        async with reaching(bootstrap):
            await admin.start()
            described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t.get("error_code", 0) == 0
        for p in t["partitions"]
    ]


async def partition_count(bootstrap: str, topic: str, timeout: float = 20.0) -> int:
    """Partitions of ``topic``, waiting for a topic just created (cluster metadata lags creation briefly)."""
    backoff = Backoff(base=0.1, cap=1.0)
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        partitions = await topic_partitions(bootstrap, [topic])
        if partitions:
            return len(partitions)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions in the cluster metadata")
        await backoff.sleep(attempt)
        attempt += 1


def default_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (murmur2, like the Java client)."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


async def _read_until(
    consumer: AIOKafkaConsumer,
    ends: Mapping[TopicPartition, int],
    *,
    timeout: float | None = None,
    poll_ms: int = 500,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of assigned partitions, from their current positions until each position reaches its end.

    Records at or past a partition's end are left out: the caller asked for
    the log as it was when it took ``ends``. Raises ``TimeoutError`` naming
    the partitions still short when ``timeout`` seconds pass first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    records: list[ConsumerRecord[bytes, bytes]] = []
    pending = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            short = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in pending)
            raise TimeoutError(f"{short} not read to their ends in {timeout:.0f} s")
        data = await consumer.getmany(*pending, timeout_ms=poll_ms)
        for tp, rows in data.items():
            records.extend(r for r in rows if r.offset < ends[tp])
        pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
    return records


def _group_less_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """A consumer that joins no group and commits nothing; ``earliest``: a range partly deleted by retention yields what is left."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )


async def read_latest(bootstrap: str, topic: str, timeout_ms: int = 1000) -> dict[str, Any]:
    """The latest value per key of a (compacted) topic, read from the start to its current end.

    Group-less and read-only: this is how a service reloads state it keeps
    in a compacted topic. Tombstones (null values) remove the key.
    """
    partitions = await topic_partitions(bootstrap, [topic])
    consumer = _group_less_consumer(bootstrap)
    latest: dict[str, Any] = {}
    try:
        async with reaching(bootstrap):
            await consumer.start()
        if not partitions:
            return latest
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for record in await _read_until(consumer, ends, poll_ms=timeout_ms):
            if record.key is None:
                continue
            key = record.key.decode("utf-8", errors="replace")
            if record.value is None:
                latest.pop(key, None)
            else:
                latest[key] = _decoded(record.value)
    finally:
        await consumer.stop()
    return latest


class PartitionReader:
    """Reads records of a partition by offset, and a group's committed offsets, without joining the group.

    How a consumer that skipped records gets them back: reading them
    directly cannot race the consumer's own fetches and seeks. Connections
    open on first use and stay open until :meth:`close`.
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect now rather than on first use (a first use then costs one request, not a connect)."""
        async with self._lock:
            await self._clients()

    async def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._consumer is None or self._admin is None:
            consumer = _group_less_consumer(self._bootstrap)
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            try:
                async with reaching(self._bootstrap):
                    await consumer.start()
                    await admin.start()
            except BaseException:  # closed here: aiokafka warns about clients never closed
                with contextlib.suppress(Exception):
                    await consumer.stop()
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._consumer, self._admin = consumer, admin
        return self._consumer, self._admin

    async def committed(self, group_id: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets (the next record to process); partitions without one are left out."""
        async with self._lock:
            _, admin = await self._clients()
            offsets = await admin.list_consumer_group_offsets(group_id, partitions=list(partitions))
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get (its log end)."""
        async with self._lock:
            consumer, _ = await self._clients()
            return dict(await consumer.end_offsets(list(partitions)))

    async def read(
        self, tp: TopicPartition, start: int, stop: int, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records ``start <= offset < stop`` of ``tp``, in offset order.

        Raises ``TimeoutError`` when Kafka does not serve them within ``timeout`` seconds.
        """
        async with self._lock:
            consumer, _ = await self._clients()
            consumer.assign([tp])
            consumer.seek(tp, start)
            try:
                records = await _read_until(consumer, {tp: stop}, timeout=timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"{tp.topic}[{tp.partition}] offsets {start}..{stop - 1} not served in {timeout:.0f} s"
                ) from None
            return [r for r in records if r.offset >= start]

    async def read_since(
        self, topic: str, since_ms: Mapping[int, int], timeout: float | None = None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of ``topic`` from the first one at or after ``since_ms[partition]`` (epoch ms) to the current end.

        A partition with no record that recent contributes none.
        """
        wanted = {TopicPartition(topic, partition): ms for partition, ms in since_ms.items()}
        if not wanted:
            return []
        async with self._lock:
            consumer, _ = await self._clients()
            consumer.assign(list(wanted))
            ends = await consumer.end_offsets(list(wanted))
            starts = await consumer.offsets_for_times(wanted)
            for tp in wanted:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
            return await _read_until(consumer, ends, timeout=timeout)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._consumer = self._admin = None


class PartitionOwner:
    """A consumer-group member that owns the partitions of one compacted topic, reading each from its start.

    The group decides which member owns which partition (ownership of
    whatever the partitions stand for). On assignment a partition is read
    from the beginning; :meth:`loaded` reports it once it reached the end it
    had when assigned, i.e. once the member holds the partition's latest
    values. On revocation ``on_revoked`` runs before the partition is given
    up, so the member can finish work on it first (eager rebalancing then
    never lets two members own one partition at once).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group_id: str,
        on_revoked: Callable[[set[int]], Awaitable[None]],
        *,
        session_timeout_ms: int = 10000,
        heartbeat_interval_ms: int = 1000,
    ) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._on_revoked = on_revoked
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self._loading: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        """Connect and join the group (assignment follows on the next :meth:`records`)."""
        async with reaching(self._bootstrap):
            await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=_OwnerListener(self))

    async def stop(self) -> None:
        """Leave the group; also releases a consumer that never connected."""
        await self._consumer.stop()

    async def records(self, timeout_ms: int = 500) -> list[tuple[str, bytes | None]]:
        """The next keyed records (key, value) of owned partitions; a ``None`` value is a tombstone."""
        data = await self._consumer.getmany(timeout_ms=timeout_ms)
        return [
            (r.key.decode("utf-8", "replace"), r.value)
            for rows in data.values()
            for r in rows
            if r.key
        ]

    async def loaded(self) -> list[int]:
        """Partitions read up to the end they had when assigned since the last call (each reported once)."""
        done: list[int] = []
        assigned = self._consumer.assignment()
        for tp, end in list(self._loading.items()):
            if tp not in assigned:
                del self._loading[tp]
            elif await self._consumer.position(tp) >= end:
                del self._loading[tp]
                done.append(tp.partition)
        return done

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        if not assigned:
            return
        ends = await self._consumer.end_offsets(list(assigned))
        await self._consumer.seek_to_beginning(*assigned)
        self._loading.update((tp, ends[tp]) for tp in assigned)

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self._loading.pop(tp, None)
        await self._on_revoked({tp.partition for tp in revoked})


class _OwnerListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: PartitionOwner) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner._assigned(set(assigned))
