"""Scale-out: ``wirewatch poller`` instances share sources through a Kafka consumer group.

Every instance joins one consumer group on the compacted poller-state topic.
A source belongs to the state partition its id hashes to (Kafka's own key
partitioner, so its state records live there too); an instance polls exactly
the sources of the partitions the group assigned to it. When an instance
dies, its session times out, the group rebalances and the survivors take its
partitions: they read those partitions from the beginning (compacted: the
latest state per source) before polling, so nothing is re-sent.

Crash consistency: items are published before their state is saved. If an
instance died between the two, the new owner would see stale state and
re-send. So after loading a partition, :func:`recover_from_log` scans the raw
topic from shortly before each source's last state save and folds the items
already published into the state ("the raw topic is the truth, state is a
checkpoint"): no loss, no duplicate.

On revocation (a rebalance), an instance lets the in-flight poll of each
source finish, then stops polling it, before giving the partition up; the
eager rebalance protocol therefore never lets two members poll one source.
A member that stalls longer than the rebalance timeout without dying is not
fenced (that would need transactions); its late writes are the rare case
recovery cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from wirewatch.bus.base import decode
from wirewatch.bus.kafka import KafkaPublisher, TopicSpec, ensure_topics, standard_topics
from wirewatch.core.config import Settings
from wirewatch.core.logging import get_logger
from wirewatch.pollers.config import FetchSettings, Source
from wirewatch.pollers.poller import Poller, make_fetcher
from wirewatch.pollers.state import KafkaStateStore, SourceState

log = get_logger("pollers.group")

RECOVERY_MARGIN_SECONDS = 300.0
"""Scan the raw topic from this long before a state save (producer clock skew, linger)."""


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (murmur2, like the Java client)."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


async def _read_to_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[Any]:
    """Records of the assigned partitions from their current position up to ``ends``."""
    records: list[Any] = []
    pending = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500)
        for tp, rows in batch.items():
            records.extend(r for r in rows if r.offset < ends[tp])
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return records


async def recover_from_log(
    reader: AIOKafkaConsumer, raw_topic: str, count: int, states: dict[str, SourceState]
) -> dict[str, SourceState]:
    """Fold items already on the raw topic (published after the last state save) into state.

    ``count`` is the raw topic's partition count (to find each source's partition).
    """
    started = {sid: st for sid, st in states.items() if st.saved_at > 0}
    if not started:
        return {}
    wanted: dict[TopicPartition, int] = {}
    for sid, st in started.items():
        tp = TopicPartition(raw_topic, partition_for(sid, count))
        since = int((st.saved_at - RECOVERY_MARGIN_SECONDS) * 1000)
        wanted[tp] = min(wanted.get(tp, since), since)
    reader.assign(list(wanted))
    ends = await reader.end_offsets(list(wanted))
    starts = await reader.offsets_for_times(wanted)
    for tp in wanted:
        found = starts.get(tp)
        reader.seek(tp, found.offset if found is not None else ends[tp])
    folded: dict[str, SourceState] = {}
    for record in await _read_to_end(reader, ends):
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if key not in started:
            continue
        try:
            item = decode(record.value)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            folded[key] = folded.get(key, started[key]).fold(item)
    return {sid: st for sid, st in folded.items() if st is not started[sid]}


class PollerGroup:
    """One ``wirewatch poller`` instance: polls the sources of its assigned partitions."""

    def __init__(
        self,
        *,
        sources: Sequence[Source],
        fetch: FetchSettings,
        settings: Settings,
        bootstrap: str,
        group_id: str | None = None,
        session_timeout_ms: int = 10000,
        heartbeat_interval_ms: int = 1000,
    ) -> None:
        self.sources = list(sources)
        self.settings = settings
        self.bootstrap = bootstrap
        self.group_id = group_id or f"{settings.topic_prefix}.pollers"
        self.stop = asyncio.Event()
        self.publisher = KafkaPublisher(bootstrap)
        self.store = KafkaStateStore(self.publisher, settings.poller_state_topic)
        self.fetcher = make_fetcher(fetch, settings.user_agent)
        self.poller = Poller(
            state=self.store,
            fetcher=self.fetcher,
            publisher=self.publisher,
            raw_topic=settings.raw_topic,
            dead_letter_topic=settings.dead_letter_topic,
            concurrency=fetch.concurrency,
            stop=self.stop,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self._reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._state_partitions = 0
        self._raw_partitions = 0
        self._loading: dict[int, int] = {}
        self._running: dict[int, tuple[asyncio.Event, list[asyncio.Task[None]]]] = {}
        self.owned: set[str] = set()
        """Ids of the sources this instance polls right now."""

    def topics(self) -> list[TopicSpec]:
        return standard_topics(self.settings)

    async def run(self) -> None:
        """Join the group and poll owned sources until :attr:`stop` is set."""
        await ensure_topics(self.bootstrap, self.topics())
        await self.publisher.start()
        await self._reader.start()
        try:
            state_topic = self.settings.poller_state_topic
            self._state_partitions = await self._partition_count(state_topic)
            self._raw_partitions = await self._partition_count(self.settings.raw_topic)
            await self._consumer.start()
            self._consumer.subscribe([state_topic], listener=_Listener(self))
            while not self.stop.is_set():
                batch = await self._consumer.getmany(timeout_ms=500)
                for rows in batch.values():
                    for record in rows:
                        if record.key:
                            self._apply(record.key.decode("utf-8", "replace"), record.value)
                await self._start_loaded()
        finally:
            await self._release(set(self._running))
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            await self._reader.stop()
            await self.fetcher.aclose()
            await self.publisher.stop()

    async def _partition_count(self, topic: str) -> int:
        """Partitions of a topic just created (metadata may lag creation briefly)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            for _ in range(100):
                described = await admin.describe_topics([topic])
                partitions = described[0].get("partitions") if described else None
                if partitions and not described[0].get("error_code"):
                    return len(partitions)
                await asyncio.sleep(0.2)
        finally:
            await admin.close()
        raise RuntimeError(f"topic {topic} has no partitions in the cluster metadata")

    def _apply(self, source_id: str, raw: bytes | None) -> None:
        if raw is None:
            self.store.apply(source_id, None)
            return
        try:
            self.store.apply(source_id, decode(raw))
        except ValueError:
            log.warning("state_unreadable", source=source_id, reason="not JSON")

    def _sources_of(self, partition: int) -> list[Source]:
        return [s for s in self.sources if partition_for(s.id, self._state_partitions) == partition]

    async def _claim(self, assigned: set[TopicPartition]) -> None:
        if not assigned:
            return
        ends = await self._consumer.end_offsets(list(assigned))
        await self._consumer.seek_to_beginning(*assigned)
        for tp in assigned:
            self._loading[tp.partition] = ends[tp]

    async def _start_loaded(self) -> None:
        topic = self.settings.poller_state_topic
        for partition, end in list(self._loading.items()):
            tp = TopicPartition(topic, partition)
            if tp not in self._consumer.assignment():
                del self._loading[partition]
                continue
            if await self._consumer.position(tp) < end:
                continue
            del self._loading[partition]
            sources = self._sources_of(partition)
            states = {s.id: await self.store.load(s.id) for s in sources}
            raw_topic, raw_count = self.settings.raw_topic, self._raw_partitions
            recovered = await recover_from_log(self._reader, raw_topic, raw_count, states)
            for state in recovered.values():
                self.store.put(state)
            if recovered:
                log.info("state_recovered_from_log", partition=partition, sources=sorted(recovered))
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(self.poller.run_source(s, stop=stop), name=f"poll:{s.id}")
                for s in sources
            ]
            self._running[partition] = (stop, tasks)
            self.owned.update(s.id for s in sources)
            log.info("partition_claimed", partition=partition, sources=len(sources))

    async def _release(self, partitions: set[int]) -> None:
        """Stop polling the sources of ``partitions``, letting in-flight polls finish."""
        for partition in partitions:
            self._loading.pop(partition, None)
            running = self._running.pop(partition, None)
            sources = (
                {s.id for s in self._sources_of(partition)} if self._state_partitions else set()
            )
            if running is not None:
                stop, tasks = running
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                log.info("partition_released", partition=partition, sources=len(tasks))
            self.owned.difference_update(sources)
            self.store.forget(sources)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: PollerGroup) -> None:
        self.group = group

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.group._release({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.group._claim(set(assigned))
