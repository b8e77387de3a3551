"""The demo's news day on the real Kafka and Elasticsearch (indexer and notifier of `wirewatch
run` with both addresses set): the alert stored in ``<prefix>-alerts`` is the body the webhook
got (the first of its story, not a later duplicate), ``<prefix>-deliveries`` holds one record per
destination, and the counts agree."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.core.config import load_settings
from wirewatch.embedded.demo import Demo
from wirewatch.embedded.demo_site import serve
from wirewatch.embedded.runner import Runner, RunOptions
from wirewatch.sinks.elasticsearch import ElasticsearchStore

from .helpers import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.elastic]


async def test_kafka_elastic_store_the_alert_delivered_and_its_deliveries(
    kafka_bootstrap: str, elasticsearch_url: str, topic_prefix: str, index_prefix: str,
    es_client: Any, tmp_path: Path,
) -> None:
    demo = Demo(tmp_path / "unused", web=None, interval=0.3)
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

        async def stored(items: int, deliveries: int) -> bool:
            assert not task.done(), task
            await es.refresh()
            return await es.count() == items and len(demo.receiver.deliveries) == deliveries

        await wait_for(lambda: stored(4, 2), timeout=60)
        demo.advance()  # Harbour Post's rewrite of the grain-corridor story matches the same rule
        await wait_for(lambda: stored(9, 5), timeout=60)
        demo.advance()  # The Morning Digest's copy: the same rule once more
        await wait_for(lambda: stored(11, 6), timeout=60)
        await asyncio.sleep(1.0)
        await es.refresh()

        bodies = {b["id"]: b for b in demo.receiver.alerts()}
        assert len(bodies) == len(demo.receiver.deliveries) == 6
        found = await es_client.search(index=es.alerts_alias, size=100)
        assert {h["_source"]["id"]: h["_source"] for h in found["hits"]["hits"]} == bodies

        async def deliveries_stored() -> bool:
            await es.refresh()
            return (await es.delivery_counts()).get("delivered") == len(bodies)

        await wait_for(deliveries_stored, timeout=30)
        history = await es.alert_history(limit=100)
        assert {a["id"]: {k: v for k, v in a.items() if k != "deliveries"} for a in history} == bodies
        grain = next(a for a in history if a["id"] == "grain-corridor:meridian-wire:mw-1001")
        assert (grain["item_id"], grain["source"]["name"]) == ("meridian-wire:mw-1001", "Meridian Wire")
        assert {a["id"]: [(d["destination"], d["outcome"], d["attempts"]) for d in a["deliveries"]]
                for a in history} == {i: [("demo-webhook", "delivered", 1)] for i in bodies}
        assert await es.alert_total() == len(bodies)
        assert (await es_client.count(index=es.alerts_alias))["count"] == len(bodies)
        assert await es.delivery_counts() == {"delivered": len(demo.receiver.deliveries)}
        assert await es.alert_total(rule="grain-corridor") == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await http.cleanup()
        await es_client.options(ignore_status=404).indices.delete(index=f"{index_prefix}-*")
        await es_client.options(ignore_status=404).indices.delete_index_template(name=f"{index_prefix}-*")
