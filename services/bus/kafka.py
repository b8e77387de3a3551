"""Kafka adapter: JSON messages, idempotent acks=all producer, topic set-up.

Everything that talks to Kafka goes through here, so serialisation and
delivery guarantees are decided once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from wirewatch.core.config import Settings


def encode(value: Any) -> bytes:
    """JSON, UTF-8, compact: the wire format of every topic."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(raw: bytes | None) -> Any:
    """Inverse of :func:`encode`; raises ``ValueError`` on bad JSON or bytes."""
    if raw is None:
        raise ValueError("empty message")
    return json.loads(raw.decode("utf-8"))


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
    """Create missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
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
        self._producer = make_producer(bootstrap, **producer_options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
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
