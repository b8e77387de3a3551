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

from wirewatch.bus.base import decode
from wirewatch.bus.kafka import (
    KafkaPublisher,
    PartitionOwner,
    PartitionReader,
    TopicSpec,
    default_partition,
    ensure_topics,
    partition_count,
    standard_topics,
)
from wirewatch.core.config import Settings
from wirewatch.core.logging import get_logger
from wirewatch.pollers.config import FetchSettings, Source
from wirewatch.pollers.health import SourceHealth
from wirewatch.pollers.poller import Poller, make_fetcher
from wirewatch.pollers.state import KafkaStateStore, SourceState

log = get_logger("pollers.group")

RECOVERY_MARGIN_SECONDS = 300.0
"""Scan the raw topic from this long before a state save (producer clock skew, linger)."""


async def recover_from_log(
    reader: PartitionReader, raw_topic: str, count: int, states: dict[str, SourceState]
) -> dict[str, SourceState]:
    """Fold items already on the raw topic (published after the last state save) into state.

    ``count`` is the raw topic's partition count (to find each source's partition).
    """
    started = {sid: st for sid, st in states.items() if st.saved_at > 0}
    if not started:
        return {}
    since_ms: dict[int, int] = {}
    for sid, st in started.items():
        partition = default_partition(sid, count)
        since = int((st.saved_at - RECOVERY_MARGIN_SECONDS) * 1000)
        since_ms[partition] = min(since_ms.get(partition, since), since)
    folded: dict[str, SourceState] = {}
    for record in await reader.read_since(raw_topic, since_ms):
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
        self.group_id = group_id or settings.poller_group
        self.stop = asyncio.Event()
        self.publisher = KafkaPublisher(bootstrap)
        self.store = KafkaStateStore(self.publisher, settings.poller_state_topic)
        self.fetcher = make_fetcher(fetch, settings.user_agent)
        # in memory: sources move between instances; the gauges are the lasting record
        self.health = SourceHealth()
        self.poller = Poller(
            state=self.store,
            fetcher=self.fetcher,
            publisher=self.publisher,
            raw_topic=settings.raw_topic,
            dead_letter_topic=settings.dead_letter_topic,
            concurrency=fetch.concurrency,
            stop=self.stop,
            health=self.health,
        )
        self._owner = PartitionOwner(
            bootstrap,
            settings.poller_state_topic,
            self.group_id,
            self._release,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self._reader = PartitionReader(bootstrap)
        self._state_partitions = 0
        self._raw_partitions = 0
        self._running: dict[int, tuple[asyncio.Event, list[asyncio.Task[None]]]] = {}
        self.owned: set[str] = set()
        """Ids of the sources this instance polls right now."""

    def topics(self) -> list[TopicSpec]:
        return standard_topics(self.settings)

    async def run(self) -> None:
        """Join the group and poll owned sources until :attr:`stop` is set."""
        try:  # every client is closed however this ends, even one never connected
            await ensure_topics(self.bootstrap, self.topics())
            await self.publisher.start()
            await self._reader.start()
            self._state_partitions = await partition_count(self.bootstrap, self.settings.poller_state_topic)
            self._raw_partitions = await partition_count(self.bootstrap, self.settings.raw_topic)
            await self._owner.start()
            while not self.stop.is_set():
                for source_id, value in await self._owner.records():
                    self._apply(source_id, value)
                for partition in await self._owner.loaded():
                    await self._start(partition)
        finally:
            await self._release(set(self._running))
            with contextlib.suppress(Exception):
                await self._owner.stop()
            await self._reader.close()
            await self.fetcher.aclose()
            await self.publisher.stop()

    def _apply(self, source_id: str, raw: bytes | None) -> None:
        if raw is None:
            self.store.apply(source_id, None)
            return
        try:
            self.store.apply(source_id, decode(raw))
        except ValueError:
            log.warning("state_unreadable", source=source_id, reason="not JSON")

    def _sources_of(self, partition: int) -> list[Source]:
        return [s for s in self.sources if default_partition(s.id, self._state_partitions) == partition]

    async def _start(self, partition: int) -> None:
        """Poll the sources of a partition whose latest states are loaded (after folding in the raw log)."""
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
            self.health.forget(sources)
