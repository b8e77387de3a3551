"""The indexer: processed items, alerts and delivery records from the bus into an :class:`ItemStore`.

Delivery records (``schemas/delivery.json``) come from the notifier's delivered topic
``<prefix>.notifier-delivered``: the indexer, not the notifier, stores them, so the store has
one writer (its outage handling and retries live here), a notifier keeps delivering while the
store is down, and the topic the notifier already writes before committing is the durable
source (a record stored twice is the same row).

Offsets are committed only after the store acknowledged the batch (and dead
letters were published), so a crash or an Elasticsearch outage replays and
never loses; replays are harmless because documents are keyed by id with
external versions. The class takes the bus and the store as arguments so the
embedded runner uses it with the in-process bus and SQLite; ``run_indexer``
is the thin Kafka + Elasticsearch wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from wirewatch.bus.base import Message, Publisher, Subscriber, batches_until
from wirewatch.core.config import Settings
from wirewatch.core.deadletter import dead_letter_for
from wirewatch.core.errors import ConfigError, SchemaError
from wirewatch.core.logging import get_logger
from wirewatch.core.metrics import DEAD_LETTERS, INDEXED_DOCS, STAGE_ITEMS
from wirewatch.core.retry import Backoff
from wirewatch.core.schemas import SchemaName, validate
from wirewatch.sinks.store import IndexOutcome, ItemStore, StoreUnavailable

log = get_logger("sinks.indexer")


def bad_input_reason(message: Message, schema: SchemaName) -> str | None:
    """Why a message cannot be indexed (not JSON, not an object, schema), or None."""
    if message.value is None:
        return "not valid JSON" if message.raw.strip() else "empty message"
    if not isinstance(message.value, dict):
        return f"expected a JSON object, got {type(message.value).__name__}"
    try:
        validate(schema, message.value)
    except SchemaError as exc:
        return str(exc)
    return None


def delivery_of(message: Message) -> dict[str, Any]:
    """The delivery record of a delivered-topic message; the key ``destination|alert id`` names
    the destination and alert of a record written before records carried them."""
    record: dict[str, Any] = dict(message.value) if isinstance(message.value, dict) else {}
    if message.key and not (record.get("destination") and record.get("alert_id")):
        destination, _, alert_id = message.key.partition("|")
        record.setdefault("destination", destination)
        record.setdefault("alert_id", alert_id)
    return record


class Indexer:
    """Consume ``items_topic`` and ``alerts_topic``, store them, dead-letter what can't be stored."""

    def __init__(
        self,
        subscriber: Subscriber,
        store: ItemStore,
        dead_letters: Publisher,
        *,
        items_topic: str,
        alerts_topic: str,
        dead_letter_topic: str,
        deliveries_topic: str | None = None,
        max_records: int = 500,
        backoff: Backoff | None = None,
    ) -> None:
        self.subscriber = subscriber
        self.store = store
        self.dead_letters = dead_letters
        self.items_topic = items_topic
        self.alerts_topic = alerts_topic
        self.dead_letter_topic = dead_letter_topic
        self.deliveries_topic = deliveries_topic
        self.max_records = max_records
        self.backoff = backoff or Backoff(base=0.5, cap=15.0)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Index until ``stop`` is set; the subscriber is expected to be started."""
        stop = stop or asyncio.Event()
        async for batch in batches_until(self.subscriber, stop, self.max_records):
            if await self.handle(batch, stop):
                await self.subscriber.commit()

    async def handle(self, batch: Sequence[Message], stop: asyncio.Event | None = None) -> bool:
        """Store one batch; True once it is durable (store acked, dead letters published)."""
        items: list[Message] = []
        alerts: list[Message] = []
        deliveries: list[Message] = []
        letters: list[dict[str, Any]] = []
        for message in batch:
            if message.topic == self.deliveries_topic:
                if message.value is not None or message.raw.strip():  # a tombstone is no delivery
                    deliveries.append(message)
                continue
            schema: SchemaName = "alert" if message.topic == self.alerts_topic else "processed_item"
            reason = bad_input_reason(message, schema)
            if reason:
                log.warning("bad input sent to dead-letter topic", topic=message.topic,
                            offset=message.offset, reason=reason)
                letters.append(self._letter(message, reason))
            else:
                (alerts if schema == "alert" else items).append(message)
        for kind, messages in (("items", items), ("alerts", alerts), ("deliveries", deliveries)):
            outcomes = await self._store_with_retry(kind, messages, stop)
            if outcomes is None:
                return False
            for message, outcome in zip(messages, outcomes, strict=True):
                INDEXED_DOCS.labels(kind, outcome.status).inc()
                if outcome.status == "rejected":
                    log.warning("document rejected by the store", id=outcome.id, reason=outcome.reason)
                    letters.append(self._letter(message, f"rejected by the store: {outcome.reason}"))
        if letters:
            await self.dead_letters.publish_many(self.dead_letter_topic, [(m.get("key"), m) for m in letters])
            DEAD_LETTERS.labels("indexer").inc(len(letters))
        STAGE_ITEMS.labels("indexer").inc(len(batch))
        return True

    async def _store_with_retry(
        self, kind: str, messages: list[Message], stop: asyncio.Event | None
    ) -> list[IndexOutcome] | None:
        """Retry while the store is unavailable; None if stopped before it came back."""
        if not messages:
            return []
        values = [delivery_of(m) for m in messages] if kind == "deliveries" else [m.value for m in messages]
        attempt = 0
        while True:
            try:
                if kind == "items":
                    return await self.store.index_items(values)
                if kind == "deliveries":
                    return await self.store.index_deliveries(values)
                return await self.store.index_alerts(values)
            except StoreUnavailable as exc:
                delay = self.backoff.delay(attempt)
                log.warning("store unavailable; retrying", error=str(exc), retry_in=round(delay, 2))
                attempt += 1
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    if stop.is_set():
                        return None

    @staticmethod
    def _letter(message: Message, reason: str) -> dict[str, Any]:
        return dead_letter_for("indexer", reason, message)


async def run_indexer(settings: Settings, *, group: str | None = None, stop: asyncio.Event | None = None) -> None:
    """Kafka -> Elasticsearch, as ``wirewatch indexer`` runs it (each waited for until reachable)."""
    from wirewatch.bus.kafka import (
        KafkaPublisher,
        KafkaSubscriber,
        TopicSpec,
        ensure_topics,
        standard_topics,
    )
    from wirewatch.core.reach import until_reachable
    from wirewatch.sinks.elasticsearch import ElasticsearchStore

    if not settings.kafka_bootstrap:
        raise ConfigError("WIREWATCH_KAFKA_BOOTSTRAP", "the indexer needs Kafka (set host:port)")
    if not settings.elasticsearch_url:
        raise ConfigError("WIREWATCH_ELASTICSEARCH_URL", "the indexer needs Elasticsearch (set http://host:port)")
    bootstrap = settings.kafka_bootstrap
    delivered = TopicSpec(settings.delivered_topic, settings.topic_partitions, {"cleanup.policy": "compact"})
    topics = [*standard_topics(settings), delivered]
    if not await until_reachable(lambda: ensure_topics(bootstrap, topics), settings, stop):
        return
    store = ElasticsearchStore.from_url(settings.elasticsearch_url, settings.index_prefix)
    subscriber = KafkaSubscriber(
        settings.kafka_bootstrap,
        [settings.processed_topic, settings.alerts_topic, settings.delivered_topic],
        group or settings.indexer_group,
    )
    publisher = KafkaPublisher(settings.kafka_bootstrap)
    indexer = Indexer(
        subscriber, store, publisher, items_topic=settings.processed_topic,
        alerts_topic=settings.alerts_topic, dead_letter_topic=settings.dead_letter_topic,
        deliveries_topic=settings.delivered_topic,
    )
    try:  # everything opened is closed, however it ends (aiokafka and aiohttp warn about the rest)
        if not await until_reachable(store.setup, settings, stop):
            return
        await publisher.start()
        await subscriber.start()
        await indexer.run(stop)
    finally:
        with contextlib.suppress(Exception):
            await subscriber.stop()
        await publisher.stop()
        await store.close()
