"""A rule's digest and a rule's mute through the Faust processor (`wirewatch processor`) and the
notifier on the real Kafka: the processor marks the alerts, the notifier digests or mutes them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.kafka import TopicSpec, ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import load_destinations
from wirewatch.sinks.notifier import run_notifier

from .helpers import Running, produce, read_topic, wait_for

pytestmark = pytest.mark.kafka

RULES = """\
rules:
  - id: grain
    query: grain
    notify: [desk]
    digest: {every: 10s, max_items: 5}
  - id: night-quiet
    query: harbour
    notify: [desk]
    mute: {cron: "* * * * *", for: 1h}   # always muted: a window opens every minute
"""


def story(n: int, word: str) -> dict[str, Any]:
    """A distinct story per n (different words: no two are near-duplicates)."""
    return {"id": f"wire-{n}", "source": {"id": "wire", "name": "Wire"}, "url": f"https://wire.example/{n}",
            "title": f"Story {n} about {word}", "body": " ".join(f"w{n}x{i}" for i in range(40)),
            "published_at": "2026-12-05T07:00:00Z"}


@pytest.fixture
async def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, [*standard_topics(settings), TopicSpec(
        settings.delivered_topic, 2, {"cleanup.policy": "compact"})])
    return settings


@pytest.fixture
def worker(wirewatch_bin: str, wirewatch_env: dict[str, str], settings: Settings,
           tmp_path: Path, stop_process_group: Callable[..., None]) -> Iterator[subprocess.Popen[bytes]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, "utf-8")
    env = {**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": str(settings.kafka_bootstrap),
           "WIREWATCH_TOPIC_PREFIX": settings.topic_prefix, "WIREWATCH_TOPIC_PARTITIONS": "2",
           "WIREWATCH_DATA_DIR": str(tmp_path / "data"), "WIREWATCH_METRICS_PORT": "0"}
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([wirewatch_bin, "processor", "--rules", str(rules), "--ner", "off"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield proc
    stop_process_group(proc)
    print((tmp_path / "worker.log").read_text("utf-8", "replace")[-4000:])  # shown when the test failed


async def test_faust_processor_marks_rule_digests_and_mutes_and_the_notifier_honours_them(
        settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path, unique: str):
    requests: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        requests.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/desk", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    path = tmp_path / "destinations.yaml"
    path.write_text(f"destinations:\n  desk:\n    url: http://127.0.0.1:{port}/desk\n", "utf-8")
    bootstrap = settings.kafka_bootstrap or ""
    notifier = Running(lambda stop: run_notifier(settings, load_destinations(path), group=f"n-{unique}", stop=stop))
    try:
        await produce(bootstrap, settings.raw_topic, [story(1, "grain"), story(2, "grain"), story(3, "harbour")])

        async def alerts() -> list[dict[str, Any]] | None:
            found = await read_topic(bootstrap, settings.alerts_topic)
            return found if len(found) == 3 else None

        raised = {a["id"]: a for a in await wait_for(alerts, timeout=120)}
        for alert in raised.values():
            validate("alert", alert)
        assert {i: (a.get("digest"), a.get("muted", {}).get("by")) for i, a in raised.items()} == {
            "grain:wire-1": ({"every_seconds": 10.0, "max_items": 5}, None),
            "grain:wire-2": ({"every_seconds": 10.0, "max_items": 5}, None),
            "night-quiet:wire-3": (None, "rule"),
        }
        await wait_for(lambda: asyncio.sleep(0, sorted(_events(requests)) == ["wire-1", "wire-2"]), timeout=40)
        await asyncio.sleep(1.0)
    finally:
        await notifier.stop()
        await runner.cleanup()
    # only digests were sent (the muted alert was not), each event in one of them: both alerts came
    # in one processor batch, so one digest, unless that batch straddled a 10 s boundary
    assert sorted(_events(requests)) == ["wire-1", "wire-2"] and 1 <= len(requests) <= 2
    for headers, body in requests:
        digest = json.loads(body)
        validate("digest", digest)
        assert headers["Idempotency-Key"] == digest["id"] == f"digest:desk:grain:{digest['period_start']}"
    latest = {r["alert_id"]: r for r in await read_topic(bootstrap, settings.delivered_topic)}
    assert latest["night-quiet:wire-3"]["outcome"] == "muted"
    assert latest["night-quiet:wire-3"]["muted"] == raised["night-quiet:wire-3"]["muted"]
    assert (latest["grain:wire-1"]["outcome"], latest[digest["id"]]["outcome"]) == ("digested", "delivered")


def _events(requests: list[tuple[dict[str, str], bytes]]) -> list[str]:
    return [e["event_id"] for _h, body in requests for e in json.loads(body)["events"]]
