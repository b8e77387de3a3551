"""Helpers for the sinks tests: fixture files, Kafka topics, polling with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from wirewatch.bus.base import decode
from wirewatch.bus.kafka import topic_partitions
from wirewatch.bus.memory import MemoryBus
from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import Destination
from wirewatch.sinks.notifier import DeliveredLog, Notifier

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sinks"


def load_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines() if line.strip()]


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every decoded value currently in ``topic`` (group-less, from the start)."""
    from aiokafka import AIOKafkaConsumer

    partitions = await topic_partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        values: list[Any] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(decode(r.value) for r in records)
        return values
    finally:
        await consumer.stop()


async def committed_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Messages the group has not committed yet, summed over the topics' partitions."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = await topic_partitions(bootstrap, topics)
        end = await consumer.end_offsets(partitions)
        lag = 0
        for tp in partitions:
            meta = committed.get(tp)
            lag += end[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def drop_prefix(client: Any, prefix: str) -> None:
    await client.options(ignore_status=404).indices.delete(index=f"{prefix}-*", allow_no_indices=True,
                                                            expand_wildcards="all")
    for name in (f"{prefix}-items", f"{prefix}-alerts", f"{prefix}-deliveries"):
        await client.options(ignore_status=404).indices.delete_index_template(name=name)


class Running:
    """A service coroutine ``main(stop)`` run as a task; ``stop()`` ends it and re-raises its error."""

    def __init__(self, main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(main(self.stop_event))

    def check(self) -> None:
        if self.task.done():
            self.task.result()

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 60)


async def produce(bootstrap: str, topic: str, values: list[Any], raw: bool = False) -> None:
    """Publish JSON values (or raw bytes when ``raw``) and wait for the acks."""
    from wirewatch.bus.base import encode
    from wirewatch.bus.kafka import make_producer

    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value if raw else encode(value))
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running_notifier(
    alerts: list[dict[str, Any]],
    path: str,
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
    destination: Callable[[str], Destination],
    delivered: DeliveredLog | None = None,
) -> AsyncIterator[tuple[MemoryBus, asyncio.Task[None]]]:
    """A notifier over ``alerts`` (on an in-process bus, keyed by rule) delivering to a loopback
    receiver answering ``POST path`` with ``handle``; ``destination(url)`` names where. Yields the
    bus (for its dead letters) and the notifier's task; stopped, with the receiver, on exit."""
    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    bus = MemoryBus()
    for topic in ("alerts", "dead-letter"):
        bus.create_topic(topic)
    for record in alerts:
        await bus.publish("alerts", record, key=record["rule"])
    subscriber = bus.subscriber("alerts", "notifier")
    await subscriber.start()
    target = destination(f"http://127.0.0.1:{port}{path}")
    notifier = Notifier(subscriber, {target.name: target}, bus,
                        DeliveredLog() if delivered is None else delivered, dead_letter_topic="dead-letter")
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        yield bus, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await subscriber.stop()
        await runner.cleanup()


def channel_alert(n: int, notify: list[str], /, **fields: Any) -> dict[str, Any]:
    """Alert number ``n`` of rule ``desk-rule`` about a quake (a valid ``schemas/alert.json``
    record), with ``fields`` replaced: what the channel renderers' tests start from."""
    record: dict[str, Any] = {
        "id": f"desk-rule:wire:{n}", "rule": "desk-rule", "notify": notify,
        "item_id": f"wire:{n}", "story_id": f"wire:{n}", "dedupe_status": "new",
        "title": "Quake", "url": f"https://news.example/{n}",
        "source": {"id": "wire", "name": "Wire"},
        "published_at": "2026-11-27T10:00:00Z", "matched_at": "2026-11-27T10:00:01Z",
    }
    record.update(fields)
    validate("alert", record)
    return record


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (the payload checks walk all of them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)

