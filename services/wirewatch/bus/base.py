"""The bus interface shared by the Kafka adapter and the in-process bus.

Services depend on these protocols, not on aiokafka, so ``wirewatch run``
can swap Kafka for :mod:`wirewatch.bus.memory` without a second code path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


def encode(value: Any) -> bytes:
    """JSON, UTF-8, compact: the wire format of every topic (orjson: it is on every hot path)."""
    return orjson.dumps(value)


def encode_line(value: Any) -> bytes:
    """:func:`encode` plus a newline: one line of a JSON-lines stream."""
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)


def decode(raw: bytes | None) -> Any:
    """Inverse of :func:`encode`; raises ``ValueError`` on bad JSON or bytes."""
    if raw is None:
        raise ValueError("empty message")
    return orjson.loads(raw)


@dataclass(frozen=True)
class Message:
    """One consumed message, value already decoded from JSON when possible."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: Any
    raw: bytes
    timestamp_ms: int | None = None


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        """Return only once the message is durably accepted by the bus."""

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None: ...


class Subscriber(Protocol):
    """A consumer-group member: messages in order per partition, explicit commits."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def batches(self, max_records: int = 500, timeout_ms: int = 1000) -> AsyncIterator[list[Message]]:
        """Yield batches of messages; empty batches are not yielded."""
        ...

    async def commit(self) -> None:
        """Commit the offsets of everything yielded so far."""


async def batches_until(
    subscriber: Subscriber, stop: asyncio.Event, max_records: int = 500
) -> AsyncIterator[list[Message]]:
    """The subscriber's batches, ending promptly once ``stop`` is set (every consuming stage stops this way)."""
    batches = subscriber.batches(max_records=max_records).__aiter__()
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            next_batch = asyncio.ensure_future(batches.__anext__())
            await asyncio.wait({next_batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not next_batch.done():
                next_batch.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_batch
                return
            try:
                batch = next_batch.result()
            except StopAsyncIteration:
                return
            yield batch
    finally:
        stopped.cancel()
