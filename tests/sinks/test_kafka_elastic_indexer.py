"""The indexer on the real Kafka and Elasticsearch: end to end, replay, bad input."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.schemas import validate
from wirewatch.sinks.indexer import run_indexer

from .helpers import FIXTURES, Running, committed_lag, drop_prefix, produce, read_topic, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.elastic]


@pytest.fixture
async def settings(kafka_bootstrap: str, elasticsearch_url: str, topic_prefix: str, index_prefix: str,
                   es_client: Any) -> Any:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, elasticsearch_url=elasticsearch_url,
                             topic_prefix=topic_prefix, index_prefix=index_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    yield settings
    await drop_prefix(es_client, index_prefix)


async def indexed_count(es_client: Any, alias: str) -> int:
    """Documents searchable under ``alias``; -1 while a just-created index's shards are not yet
    searchable (the node answers 503 ``search_phase_execution_exception`` then)."""
    from elasticsearch import ApiError

    try:
        await es_client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
        return int((await es_client.count(index=alias, ignore_unavailable=True, allow_no_indices=True))["count"])
    except ApiError as exc:
        if exc.meta.status == 503:
            return -1
        raise


def process_raw(wirewatch_bin: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """raw -> processed through the processing core's CLI contract."""
    done = subprocess.run(
        [wirewatch_bin, "process", "--rules", str(FIXTURES / "rules.yaml"), "--ner", "off"],
        input=(FIXTURES / "raw_items.jsonl").read_text("utf-8"), capture_output=True, text=True,
        env=env, timeout=120, check=True,
    )
    items = [json.loads(line) for line in done.stdout.splitlines()]
    for item in items:
        validate("processed_item", item)
    return items


async def test_kafka_elastic_raw_to_search_and_replay_adds_nothing(
    settings: Settings, es_client: Any, wirewatch_bin: str, wirewatch_env: dict[str, str], unique: str,
):
    processed = process_raw(wirewatch_bin, wirewatch_env)
    assert len(processed) == 4
    await produce(settings.kafka_bootstrap or "", settings.processed_topic, processed)
    alias = f"{settings.index_prefix}-items"

    indexer = Running(lambda stop: run_indexer(settings, group=f"idx-{unique}", stop=stop))
    await wait_for(lambda: _count_is(es_client, alias, 4))
    await wait_for(lambda: _lag_is_zero(settings, f"idx-{unique}"))
    await indexer.stop()

    env = {**wirewatch_env, "WIREWATCH_ELASTICSEARCH_URL": settings.elasticsearch_url or "",
           "WIREWATCH_INDEX_PREFIX": settings.index_prefix}
    found = subprocess.run([wirewatch_bin, "search", '"arrest warrant" AND putin', "--json"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["id"] for line in found.stdout.splitlines()] == ["reuters:77", "bbc:1001"]
    table = subprocess.run([wirewatch_bin, "search", "zurich", "--since", "3650d"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert table.returncode == 0, table.stderr
    columns = table.stdout.strip().split("\t")
    assert columns[:3] == ["2025-04-02T06:30:00Z", "guardian", "Zürich floods: rescuers reach stranded residents"]

    versions_before = await _versions(es_client, alias)
    replay = Running(lambda stop: run_indexer(settings, group=f"replay-{unique}", stop=stop))
    await wait_for(lambda: _lag_is_zero(settings, f"replay-{unique}"))
    await replay.stop()
    assert await indexed_count(es_client, alias) == 4
    assert await _versions(es_client, alias) == versions_before


async def test_kafka_elastic_bad_input_goes_to_dead_letters_and_the_stream_goes_on(
    settings: Settings, es_client: Any, processed_items: list[dict[str, Any]], unique: str,
):
    bootstrap = settings.kafka_bootstrap or ""
    conflict = dict(processed_items[4], id="ap:bad-date", published_at="2025-02-30T12:00:00Z")
    invalid = {"id": "x", "title": "no source, no body"}
    await produce(bootstrap, settings.processed_topic, [processed_items[0]])
    await produce(bootstrap, settings.processed_topic, [b"{not json", json.dumps(invalid).encode()], raw=True)
    await produce(bootstrap, settings.processed_topic, [conflict, processed_items[4]])

    indexer = Running(lambda stop: run_indexer(settings, group=f"idx-{unique}", stop=stop))
    await wait_for(lambda: _lag_is_zero(settings, f"idx-{unique}"))
    await indexer.stop()

    assert await indexed_count(es_client, f"{settings.index_prefix}-items") == 2
    letters = await read_topic(bootstrap, settings.dead_letter_topic)
    for letter in letters:
        validate("dead_letter", letter)
    reasons = {letter["payload"][:20]: letter["reason"] for letter in letters}
    assert len(letters) == 3
    assert reasons["{not json"] == "not valid JSON"
    assert reasons[json.dumps(invalid)[:20]].startswith("not a valid processed_item")
    conflict_reason = next(r for p, r in reasons.items() if p.startswith('{"id":"ap:bad-date"'))
    assert conflict_reason == ("rejected by the store: published_at 2025-02-30T12:00:00Z is not a real date "
                               "(day is out of range for month)")
    assert {letter["stage"] for letter in letters} == {"indexer"}


async def _count_is(es_client: Any, alias: str, expected: int) -> bool:
    return await indexed_count(es_client, alias) == expected


async def _lag_is_zero(settings: Settings, group: str) -> bool:
    topics = [settings.processed_topic, settings.alerts_topic]
    return await committed_lag(settings.kafka_bootstrap or "", group, topics) == 0


async def _versions(es_client: Any, alias: str) -> dict[str, int]:
    response = await es_client.search(index=alias, size=100, version=True, query={"match_all": {}})
    return {hit["_id"]: hit["_version"] for hit in response["hits"]["hits"]}

