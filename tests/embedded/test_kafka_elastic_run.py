"""`wirewatch run` with both addresses set runs the same pipeline on the real Kafka and
Elasticsearch: the demo's news day ends up searchable in Elasticsearch, alerts at the webhook; the
alert stored in ``<prefix>-alerts`` is the body the webhook got (the first of its story, not a
later duplicate), ``<prefix>-deliveries`` holds one record per destination, and the counts agree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.core.config import load_settings
from wirewatch.embedded.demo import Demo
from wirewatch.embedded.demo_site import serve
from wirewatch.embedded.runner import Runner, RunOptions
from wirewatch.sinks.elasticsearch import ElasticsearchStore

pytestmark = [pytest.mark.kafka, pytest.mark.elastic]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def test_kafka_elastic_run_gives_the_demo_results(
    kafka_bootstrap: str, elasticsearch_url: str, topic_prefix: str, index_prefix: str,
    es_client: Any, tmp_path: Path,
) -> None:
    demo = Demo(tmp_path / "embedded-unused", web=None, interval=0.3)
    app = web.Application()
    demo.site.routes(app)
    demo.receiver.routes(app)
    http, base = await serve(app)
    demo.site.base_url = base
    config = demo.write_config(tmp_path / "config", base)
    settings = load_settings(
        kafka_bootstrap=kafka_bootstrap, elasticsearch_url=elasticsearch_url, topic_prefix=topic_prefix,
        index_prefix=index_prefix, topic_partitions=2, data_dir=tmp_path / "data",
    )
    options = RunOptions(sources=config / "sources.yaml", rules=config / "rules.yaml",
                         destinations=config / "destinations.yaml", watchlist=config / "watchlist.yaml",
                         ner="off", web=None)
    runner = Runner(options, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    es = ElasticsearchStore(es_client, index_prefix)
    try:
        await asyncio.wait_for(runner.ready.wait(), 60)
        assert runner.bus is None and isinstance(runner.store, ElasticsearchStore)

        async def count_is(n: int) -> bool:
            assert not task.done(), task
            await es.refresh()
            return await es.count() == n

        await eventually(lambda: count_is(4), "stage 0 indexed")
        demo.advance()
        await eventually(lambda: count_is(9), "stage 1 indexed")
        demo.advance()

        async def all_in() -> bool:
            # the live-blog correction (revision 2 of a post already counted) lands on its own time
            corrected = [h.document["revision"] for h in await es.search("substation")] == [2]
            return await count_is(11) and len(demo.receiver.deliveries) == 6 and corrected

        await eventually(all_in, "stage 2 indexed and alerts delivered")
        hits = await es.search('"grain corridor" AND Ukraine')
        assert [(h.id, h.document["dedupe"]["status"]) for h in hits] == [
            ("morning-digest:digest-4001", "duplicate"),
            ("harbour-post:hp-2001", "near_duplicate"),
            ("meridian-wire:mw-1001", "new"),
        ]
        assert [h.document["revision"] for h in await es.search("substation")] == [2]
        # the Ukrainian item, found in Elasticsearch by its Cyrillic words and detected/declared language
        assert [h.id for h in await es.search('"зерновий коридор" AND language:uk')] == ["kyiv-visnyk:kv-5001"]
        assert sorted(d["headers"]["Idempotency-Key"] for d in demo.receiver.deliveries) == [
            "boj-watch:northgate-daily:urn:northgate:3002",
            "grain-corridor-uk:kyiv-visnyk:kv-5001",
            "grain-corridor:meridian-wire:mw-1001",
            "kharkiv-blast:meridian-live:post-103",
            "kharkiv-blast:meridian-live:post-103:r2",
            "port-strike:meridian-wire:mw-1002",
        ]

        # the alert stored is the body the webhook got (the story's first, not a later duplicate's),
        # <prefix>-deliveries holds one record per destination, and the counts agree
        await asyncio.sleep(1.0)
        await es.refresh()
        bodies = {b["id"]: b for b in demo.receiver.alerts()}
        assert len(bodies) == len(demo.receiver.deliveries) == 6
        found = await es_client.search(index=es.alerts_alias, size=100)
        assert {h["_source"]["id"]: h["_source"] for h in found["hits"]["hits"]} == bodies

        async def deliveries_stored() -> bool:
            await es.refresh()
            return (await es.delivery_counts()).get("delivered") == len(bodies)

        await eventually(deliveries_stored, "delivery records stored", timeout=30)
        history = await es.alert_history(limit=100)
        assert {a["id"]: {k: v for k, v in a.items() if k != "deliveries"} for a in history} == bodies
        grain = next(a for a in history if a["id"] == "grain-corridor:meridian-wire:mw-1001")
        assert (grain["item_id"], grain["source"]["name"]) == ("meridian-wire:mw-1001", "Meridian Wire")
        assert {a["id"]: [(d["destination"], d["outcome"], d["attempts"]) for d in a["deliveries"]]
                for a in history} == {i: [("demo-webhook", "delivered", 1)] for i in bodies}
        assert await es.alert_total() == len(bodies)
        assert await es.delivery_counts() == {"delivered": len(demo.receiver.deliveries)}
        assert await es.alert_total(rule="grain-corridor") == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await http.cleanup()
        await es_client.options(ignore_status=404).indices.delete(index=f"{index_prefix}-*")
        await es_client.options(ignore_status=404).indices.delete_index_template(name=f"{index_prefix}-*")
