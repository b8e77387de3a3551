"""Elasticsearch down for a minute mid-stream: nothing lost, nothing duplicated, lag drains.

Runs its own second node (never the shared one) through the stack script on
ports 19201/19301, started once per session and wiped at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch

from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import load_settings
from wirewatch.core.metrics import CONSUMER_LAG, INDEXED_DOCS
from wirewatch.sinks.indexer import run_indexer

from .helpers import Running, committed_lag, produce, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.elastic]

REPO = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = float(os.environ.get("WIREWATCH_TEST_ES_OUTAGE_SECONDS", "60"))
ES2_ENV = {"ES_PORT": "19201", "ES_TRANSPORT_PORT": "19301", "ES_HEAP": "512m",
           "WIREWATCH_STACK_HOME": "/tmp/wirewatch-stack-es2"}


def es2(action: str) -> None:
    env = {**os.environ, **ES2_ENV}
    done = subprocess.run([str(REPO / "deploy/local/elasticsearch.sh"), action], env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"elasticsearch.sh {action} failed: {done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def second_node(elasticsearch_url: str) -> Iterator[str]:
    """A private Elasticsearch node this test may stop and start."""
    es2("up")
    try:
        yield f"http://127.0.0.1:{ES2_ENV['ES_PORT']}"
    finally:
        es2("wipe")


def items(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {"id": f"wire:{n}", "source": {"id": "wire"}, "url": f"https://wire.example/{n}",
         "title": f"Outage drill story {n}", "body": f"Body of drill story number {n}.",
         "published_at": f"2025-05-01T10:{n % 60:02d}:00Z", "revision": 1,
         "dedupe": {"status": "new", "of": None}, "story_id": f"wire:{n}", "entities": [], "alerts": []}
        for n in range(start, stop)
    ]


async def test_elastic_outage_loses_nothing_duplicates_nothing_and_lag_drains(
    second_node: str, kafka_bootstrap: str, topic_prefix: str, index_prefix: str, unique: str,
):
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, elasticsearch_url=second_node,
                             topic_prefix=topic_prefix, index_prefix=index_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    group = f"idx-{unique}"
    topics = [settings.processed_topic, settings.alerts_topic]
    client = AsyncElasticsearch(second_node, request_timeout=10)
    alias = f"{index_prefix}-items"

    async def count() -> int:
        try:
            await client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
            return int((await client.count(index=alias, ignore_unavailable=True, allow_no_indices=True))["count"])
        except Exception:
            return -1

    rejected_before = INDEXED_DOCS.labels("items", "rejected")._value.get()
    try:
        indexer = Running(lambda stop: run_indexer(settings, group=group, stop=stop))
        await produce(kafka_bootstrap, settings.processed_topic, items(0, 40))
        await wait_for(lambda: _equals(count, 40), timeout=60)

        await asyncio.to_thread(es2, "down")
        await produce(kafka_bootstrap, settings.processed_topic, items(40, 100))
        await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a condition
        indexer.check()  # still running, retrying
        assert await committed_lag(kafka_bootstrap, group, topics) == 60  # nothing committed while down

        await asyncio.to_thread(es2, "up")
        await wait_for(lambda: _equals(count, 100), timeout=120)
        await wait_for(lambda: _lag_is_zero(kafka_bootstrap, group, topics), timeout=60)
        await wait_for(lambda: _gauge_drained(group, settings.processed_topic), timeout=30)
        await indexer.stop()

        response = await client.search(index=alias, size=200, version=True, query={"match_all": {}})
        hits = response["hits"]["hits"]
        assert sorted(h["_id"] for h in hits) == sorted(f"wire:{n}" for n in range(100))
        assert {h["_version"] for h in hits} == {1}
        assert INDEXED_DOCS.labels("items", "rejected")._value.get() == rejected_before
    finally:
        await client.close()


async def _equals(count: Any, expected: int) -> bool:
    return await count() == expected


async def _lag_is_zero(bootstrap: str, group: str, topics: list[str]) -> bool:
    return await committed_lag(bootstrap, group, topics) == 0


async def _gauge_drained(group: str, topic: str) -> bool:
    samples = [s for metric in CONSUMER_LAG.collect() for s in metric.samples
               if s.labels.get("group") == group and s.labels.get("topic") == topic]
    return bool(samples) and all(s.value == 0 for s in samples)
