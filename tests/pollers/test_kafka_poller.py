"""`wirewatch poller` against the real Kafka: published items, SIGKILL + restart, two instances."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from wirewatch.bus.base import decode
from wirewatch.core.schemas import validate

from .helpers import Site, fixture_bytes

pytestmark = pytest.mark.kafka


class GrowingFeed:
    """An RSS feed that gains one item per request until frozen."""

    def __init__(self) -> None:
        self.count = 0
        self.frozen = False
        self.lock = threading.Lock()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            if not self.frozen:
                self.count += 1
            count = self.count
        items = "".join(
            f'<item><guid isPermaLink="false">g{n}</guid><title>Update {n}</title><description>Body {n}</description></item>'
            for n in range(count, 0, -1)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>G</title>{items}</channel></rss>'.encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def start_poller(
    wirewatch_bin: str, env: dict[str, str], config: Path, log: Path, agent: str = "Wirewatch-test"
) -> subprocess.Popen[bytes]:
    env = {**env, "WIREWATCH_USER_AGENT": agent}
    return subprocess.Popen(
        [wirewatch_bin, "poller", "--config", str(config), "--session-timeout", "6s"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip


def kafka_env(env: dict[str, str], bootstrap: str, prefix: str) -> dict[str, str]:
    return {**env, "WIREWATCH_KAFKA_BOOTSTRAP": bootstrap, "WIREWATCH_TOPIC_PREFIX": prefix}


class RawReader:
    """Reads the raw topic from the beginning, accumulating items."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
            metadata_max_age_ms=1000,
        )  # fmt: skip
        self.items: list[tuple[str | None, dict[str, Any]]] = []

    async def until(self, predicate: Any, timeout: float, *alive: subprocess.Popen[bytes]) -> bool:
        """Read until ``predicate()``; False at the deadline or as soon as a poller in ``alive`` exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and all(p.poll() is None for p in alive):
            batch = await self.consumer.getmany(timeout_ms=300)
            for rows in batch.values():
                for row in rows:
                    self.items.append((row.key.decode() if row.key else None, decode(row.value)))
            if predicate():
                return True
        return bool(predicate())


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_kafka_sigkill_and_restart_lose_nothing_duplicate_nothing(
    site: Site,
    tmp_path: Path,
    kafka_bootstrap: str,
    topic_prefix: str,
    wirewatch_bin: str,
    wirewatch_env: dict[str, str],
) -> None:
    feed = GrowingFeed()
    url = site.serve("/growing.xml", handler=feed)
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"fetch: {{min_host_delay: 0s}}\nsources:\n  - id: growing\n    kind: rss\n    url: {url}\n    interval: 0.3s\n"
    )
    env = kafka_env(wirewatch_env, kafka_bootstrap, topic_prefix)
    log = tmp_path / "poller.log"
    first = start_poller(wirewatch_bin, env, config, log)
    reader = RawReader(kafka_bootstrap, f"{topic_prefix}.raw")
    try:
        # The topic appears when the poller creates it; the reader refreshes metadata every second.
        await reader.consumer.start()
        assert await reader.until(lambda: len(reader.items) >= 5, 60, first), log.read_text()[
            -3000:
        ]
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = feed.count
        second = start_poller(wirewatch_bin, env, config, log)
        try:
            assert await reader.until(lambda: feed.count >= killed_at + 5, 60, second), (
                log.read_text()[-3000:]
            )
            feed.frozen = True
            total = feed.count
            assert await reader.until(lambda: len({v["id"] for _, v in reader.items}) >= total, 30)
            await reader.until(lambda: False, 2)  # anything late would be a duplicate
        finally:
            stop(second)
    finally:
        stop(first)
        await reader.consumer.stop()
    ids = [v["id"] for _, v in reader.items]
    assert Counter(ids).most_common(1)[0][1] == 1, "duplicated items"
    assert sorted(ids, key=lambda i: int(i.rsplit("g", 1)[1])) == [
        f"growing:g{n}" for n in range(1, total + 1)
    ]
    for key, value in reader.items:
        validate("raw_item", value)
        assert key == "growing" and value["revision"] == 1


async def test_kafka_two_instances_share_sources_and_take_over(
    site: Site,
    tmp_path: Path,
    kafka_bootstrap: str,
    topic_prefix: str,
    wirewatch_bin: str,
    wirewatch_env: dict[str, str],
) -> None:
    sources = [f"feed-{n}" for n in range(8)]
    for name in sources:
        site.serve(
            f"/{name}.xml",
            fixture_bytes("rss_v1.xml"),
            headers={"Content-Type": "application/rss+xml"},
        )
    config = tmp_path / "sources.yaml"
    config.write_text(
        "fetch: {min_host_delay: 0s}\nsources:\n"
        + "".join(
            f"  - {{id: {n}, kind: rss, url: '{site.url(f'/{n}.xml')}', interval: 0.3s}}\n"
            for n in sources
        )
    )
    env = kafka_env(wirewatch_env, kafka_bootstrap, topic_prefix)
    log = tmp_path / "pollers.log"
    a = start_poller(wirewatch_bin, env, config, log, agent="instance-a")
    b = start_poller(wirewatch_bin, env, config, log, agent="instance-b")
    reader = RawReader(kafka_bootstrap, f"{topic_prefix}.raw")

    def polled_by(since: float) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for path, headers, at in list(site.timed_requests):
            if at >= since:
                out.setdefault(path.strip("/").removesuffix(".xml"), set()).add(
                    headers["user-agent"]
                )
        return out

    try:
        await reader.consumer.start()

        def both_settled() -> bool:
            window = polled_by(time.monotonic() - 1.5)
            return (
                set(window) == set(sources)
                and all(len(v) == 1 for v in window.values())
                and (set().union(*window.values()) == {"instance-a", "instance-b"})
            )

        deadline = time.monotonic() + 60
        while not both_settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert both_settled(), log.read_text()[-3000:]
        # Stable sharing: over the next 2 s every source is polled by exactly one instance.
        start = time.monotonic()
        await asyncio.sleep(2)
        window = polled_by(start)
        assert set(window) == set(sources) and all(
            len(agents) == 1 for agents in window.values()
        ), window
        of_a = {s for s, agents in window.items() if agents == {"instance-a"}}
        assert 0 < len(of_a) < len(sources)

        a.send_signal(signal.SIGKILL)
        a.wait()
        killed = time.monotonic()
        deadline = killed + 40
        while time.monotonic() < deadline and not of_a <= {
            s for s, agents in polled_by(killed).items() if "instance-b" in agents
        }:
            await asyncio.sleep(0.3)
        assert of_a <= {s for s, agents in polled_by(killed).items() if "instance-b" in agents}, (
            log.read_text()[-3000:]
        )
        await reader.until(lambda: len(reader.items) >= 3 * len(sources), 20)
        await reader.until(lambda: False, 1.5)
    finally:
        stop(a)
        stop(b)
        await reader.consumer.stop()
    # Each source's three items were published exactly once, whoever polled it.
    assert sorted(Counter((k, v["id"]) for k, v in reader.items).values()) == [1] * (
        3 * len(sources)
    )
    assert {k for k, _ in reader.items} == set(sources)
