"""Digests on the real Kafka: the notifier restarted between the alerts and the digest's time sends
the digest once, on start; a later start sends nothing (the delivered topic is the state)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.kafka import TopicSpec, ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import load_destinations
from wirewatch.sinks.notifier import run_notifier

from .helpers import Running, load_jsonl, produce, read_topic, wait_for

pytestmark = pytest.mark.kafka

PERIOD = 15  # seconds: long enough for a consumer group to join and the notifier to stop inside one


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, float]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read(), time.time()))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> Any:
    handler = Receiver()
    app = web.Application()
    app.router.add_post("/desk", handler.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    handler.url = f"http://127.0.0.1:{port}/desk"  # type: ignore[attr-defined]
    yield handler
    await runner.cleanup()


@pytest.fixture
async def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, [*standard_topics(settings), TopicSpec(
        settings.delivered_topic, 2, {"cleanup.policy": "compact"})])
    return settings


async def _until_period_second(low: float, high: float) -> None:
    """Sleep until the clock is ``low``..``high`` seconds into a digest period."""
    while not low <= time.time() % PERIOD <= high:
        await asyncio.sleep(0.05)


async def test_kafka_digest_missed_while_down_is_sent_once_on_start(
        settings: Settings, receiver: Receiver, tmp_path: Path, unique: str):
    bootstrap = settings.kafka_bootstrap or ""
    path = tmp_path / "destinations.yaml"
    path.write_text(f"destinations:\n  desk:\n    url: {receiver.url}\n"  # type: ignore[attr-defined]
                    f"    digest: {{every: {PERIOD}s, max_items: 2}}\n", "utf-8")
    destinations = load_destinations(path)
    alerts = load_jsonl("digest_alerts.jsonl")
    await produce(bootstrap, settings.alerts_topic, alerts)

    async def digested() -> list[dict[str, Any]]:
        return [r for r in await read_topic(bootstrap, settings.delivered_topic) if r["outcome"] == "digested"]

    await _until_period_second(0.2, 1.0)
    first = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{unique}", stop=stop))
    records = await wait_for(lambda: _five(digested), timeout=PERIOD / 2)
    await first.stop()
    end = records[0]["digest"]["end"]
    assert {r["digest"]["id"] for r in records} == {f"digest:desk:{records[0]['digest']['start']}"}
    assert receiver.requests == []  # stopped before the digest's time
    assert time.time() < _epoch(end)

    await asyncio.sleep(_epoch(end) - time.time() + 1.0)  # the digest's time passes while it is down
    second = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{unique}", stop=stop))
    await wait_for(lambda: asyncio.sleep(0, len(receiver.requests) >= 1), timeout=30)
    await asyncio.sleep(1.0)
    await second.stop()
    assert len(receiver.requests) == 1
    headers, body, _at = receiver.requests[0]
    digest = json.loads(body)
    validate("digest", digest)
    assert headers["Idempotency-Key"] == digest["id"] == records[0]["digest"]["id"]
    assert (digest["alerts"], digest["events_total"], digest["more"]) == (5, 3, 1)
    assert [(e["event_id"], e["count"]) for e in digest["events"]] == [("nhk:12", 1), ("reuters:5501", 3)]
    assert digest["events"][1]["outlets"] == ["Reuters", "الجزيرة"]

    # a third start (a new consumer group replays every alert) after another period: nothing more
    await asyncio.sleep(PERIOD - time.time() % PERIOD + 0.5)
    third = Running(lambda stop: run_notifier(settings, destinations, group=f"r-{unique}", stop=stop))
    await asyncio.sleep(PERIOD)
    await third.stop()
    assert len(receiver.requests) == 1
    latest = {r["alert_id"]: r["outcome"] for r in await read_topic(bootstrap, settings.delivered_topic)}
    assert latest[digest["id"]] == "delivered"
    assert sorted(k for k, v in latest.items() if v == "digested") == sorted(a["id"] for a in alerts)


async def _five(digested: Any) -> list[dict[str, Any]] | None:
    records: list[dict[str, Any]] = await digested()
    return records if len(records) == 5 else None


def _epoch(stamp: str) -> float:
    from wirewatch.core.times import parse_rfc3339

    return parse_rfc3339(stamp).timestamp()
