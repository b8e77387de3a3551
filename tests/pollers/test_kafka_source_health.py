"""`wirewatch poller` (Kafka) exports source health on /metrics: the gauges Grafana reads."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import Site, fixture_bytes
from .test_kafka_poller import kafka_env, start_poller

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, str], float]:
    """(metric name, source label) -> value, for the source health gauges."""
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "source" in sample.labels and sample.name.startswith("wirewatch_poller_") and family.type == "gauge":
                out[(sample.name, sample.labels["source"])] = sample.value
    return out


async def test_the_kafka_poller_exports_source_health(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str], kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    url = site.serve("/wire.xml", fixture_bytes("rss_v1.xml"), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        f"  - {{id: wire, kind: rss, url: '{url}', interval: 1s}}\n"
        f"  - {{id: down, kind: rss, url: 'http://127.0.0.1:{free_port()}/feed.xml', interval: 1s}}\n"
    )
    port = free_port()
    env = {**kafka_env(wirewatch_env, kafka_bootstrap, topic_prefix), "WIREWATCH_METRICS_PORT": str(port)}
    poller = start_poller(wirewatch_bin, env, config, tmp_path / "poller.log")
    found: dict[tuple[str, str], float] = {}
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline and poller.poll() is None:
                try:
                    found = samples((await client.get(f"http://127.0.0.1:{port}/metrics")).text)
                except httpx.TransportError:
                    found = {}
                if found.get(("wirewatch_poller_consecutive_failures", "down"), 0) >= 1 and (
                        "wirewatch_poller_last_success_timestamp_seconds", "wire") in found:
                    break
                await asyncio.sleep(0.3)
    finally:
        poller.terminate()
        poller.wait(timeout=30)
    assert found.get(("wirewatch_poller_consecutive_failures", "down"), 0) >= 1, (tmp_path / "poller.log").read_text()
    assert found[("wirewatch_poller_consecutive_failures", "wire")] == 0
    assert abs(found[("wirewatch_poller_last_success_timestamp_seconds", "wire")] - time.time()) < 60
    # rss_v1.xml's newest item: 2026-03-03 09:15 UTC; its gaps are 30 and 75 min
    newest = datetime(2026, 3, 3, 9, 15, tzinfo=UTC).timestamp()
    assert found[("wirewatch_poller_last_item_timestamp_seconds", "wire")] == newest
    staleness = found[("wirewatch_poller_staleness_ratio", "wire")]
    assert abs(staleness - (time.time() - newest) / (52.5 * 60)) < 1.0
    assert ("wirewatch_poller_last_success_timestamp_seconds", "down") not in found
