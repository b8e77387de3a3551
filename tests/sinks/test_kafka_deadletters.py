"""`wirewatch deadletters list | replay` on the real Kafka (WIREWATCH_KAFKA_BOOTSTRAP set): the
notifier dead-letters an alert for a destination that is down; `list` reads the dead-letter
topic; `replay` puts the alert back while the notifier runs, and only that destination gets it,
exactly once; a second replay sends nothing. A processor letter goes back to the raw topic."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.sinks.destinations import Destination
from wirewatch.sinks.notifier import run_notifier

from .helpers import Running, produce, read_topic, wait_for

pytestmark = pytest.mark.kafka

ALERT = {
    "id": "quake:wire:q-1", "rule": "quake", "notify": ["desk", "archive"], "item_id": "wire:q-1",
    "story_id": "wire:q-1", "dedupe_status": "new", "title": "Strong quake off the coast",
    "url": "https://wire.example/q-1", "source": {"id": "wire", "name": "Wire"},
    "published_at": "2026-12-04T10:00:00Z", "matched_at": "2026-12-04T10:00:01.000Z",
}


class Hooks:
    def __init__(self) -> None:
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.archive_down = True

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.json()
        if name == "archive" and self.archive_down:
            return web.Response(status=503)
        self.accepted[(name, body["id"])] += 1
        return web.Response(status=204)


@pytest.fixture
async def hooks() -> Any:
    handler = Hooks()
    app = web.Application()
    app.router.add_post("/{name}", handler.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    handler.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined,union-attr]
    yield handler
    await runner.cleanup()


@pytest.fixture
async def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    return settings


def deadletters(bin_: str, env: dict[str, str], settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**env, "WIREWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
           "WIREWATCH_TOPIC_PREFIX": settings.topic_prefix}
    return subprocess.run([bin_, "deadletters", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_kafka_replay_reaches_only_the_dead_lettered_destination_once(
    settings: Settings, hooks: Any, unique: str, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    destinations = {name: Destination(name=name, url=f"{hooks.base}/{name}", retries=1) for name in ("desk", "archive")}
    await produce(settings.kafka_bootstrap or "", settings.alerts_topic, [ALERT])
    notifier = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{unique}", stop=stop))
    try:
        async def dead_lettered() -> bool:
            notifier.check()
            letters = await read_topic(settings.kafka_bootstrap or "", settings.dead_letter_topic)
            return hooks.accepted[("desk", ALERT["id"])] == 1 and len(letters) == 1

        await wait_for(dead_lettered, timeout=60)
        listed = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (letter["stage"], letter["destination"], letter["topic"], letter["replayed_at"]) == (
            "notifier", "archive", settings.alerts_topic, None)

        hooks.archive_down = False
        replay = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "replay", letter["id"])
        assert (replay.returncode, replay.stdout.strip()) == (
            0, f"replayed {letter['id']} (notifier for archive) -> {settings.alerts_topic}")

        async def archived() -> bool:
            notifier.check()
            return hooks.accepted[("archive", ALERT["id"])] == 1

        await wait_for(archived, timeout=60)
        again = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "replay", "--all")
        assert again.returncode == 0
        assert again.stdout.strip().startswith(f"{letter['id']} was already replayed at ")
        assert again.stdout.strip().endswith(": nothing done")
        await asyncio.sleep(2.0)
    finally:
        await notifier.stop()
    assert hooks.accepted == Counter({("desk", ALERT["id"]): 1, ("archive", ALERT["id"]): 1})
    records = await read_topic(settings.kafka_bootstrap or "", settings.delivered_topic)
    assert [(r["destination"], r["outcome"]) for r in records if r["destination"] == "archive"] == [
        ("archive", "dead-lettered"), ("archive", "delivered"),
    ]


async def test_kafka_processor_letter_goes_back_to_the_raw_topic(
    settings: Settings, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    """A raw item the processor dead-lettered (here written as the processor writes it) is put
    back on the raw topic with its key, once."""
    from wirewatch.bus.base import Message
    from wirewatch.core.deadletter import dead_letter_for

    raw = b'{"id": "wire:1", "title": "no source, no url"}'
    letter = dead_letter_for("processor", "not a valid raw_item: 'source' is a required property",
                             Message(settings.raw_topic, 1, 7, "wire", None, raw))
    await produce(settings.kafka_bootstrap or "", settings.dead_letter_topic, [letter])
    listed = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "list", "--stage", "processor")
    (line,) = listed.stdout.splitlines()
    letter_id = line.split()[0]
    assert line.split("  ")[2:] == ["processor", "-", "not a valid raw_item: 'source' is a required property"]
    replay = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "replay", "--stage",
                                     "processor")
    assert replay.stdout.strip() == f"replayed {letter_id} (processor) -> {settings.raw_topic}"
    again = await asyncio.to_thread(deadletters, wirewatch_bin, wirewatch_env, settings, "replay", letter_id)
    assert again.stdout.strip().endswith(": nothing done")
    assert await read_topic(settings.kafka_bootstrap or "", settings.raw_topic) == [json.loads(raw)]
