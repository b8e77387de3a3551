"""Every Grafana panel's PromQL returns data from the real Prometheus scraping the real services.

The services run in-process (poller -> processor -> Kafka -> indexer -> Elasticsearch, notifier ->
webhooks) behind one ``/metrics`` endpoint on 127.0.0.1, registered with the local Prometheus
through a file_sd target file that is removed at the end.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.kafka import KafkaPublisher, ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.metrics import serve_metrics
from wirewatch.sinks.destinations import load_destinations
from wirewatch.sinks.indexer import run_indexer
from wirewatch.sinks.notifier import run_notifier

from .helpers import FIXTURES, Running, committed_lag, drop_prefix, read_topic, wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.kafka, pytest.mark.elastic]

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "wirewatch.json"


def panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


async def _web(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _http_server() -> web.Application:
    """The feed (ok), a broken source (500), a webhook that accepts and one that is down (503)."""
    feed = (FIXTURES / "feed.xml").read_bytes()

    async def ok_feed(_request: web.Request) -> web.Response:
        return web.Response(body=feed, content_type="application/rss+xml")

    async def status(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status={"hook": 204, "dead": 503, "broken": 500}[request.match_info["name"]])

    app = web.Application()
    app.router.add_get("/feed.xml", ok_feed)
    app.router.add_route("*", "/{name}", status)
    return app


async def push_traffic(settings: Settings, base_url: str, tmp: Path) -> None:
    """Poll two sources, process the raw items, and let indexer and notifier drain them."""
    from wirewatch.pollers.config import FetchSettings, Source
    from wirewatch.pollers.poller import Poller, make_fetcher
    from wirewatch.pollers.state import DirectoryStateStore
    from wirewatch.processors.dedupe import Deduper
    from wirewatch.processors.entities import EntityTagger
    from wirewatch.processors.pipeline import Processor
    from wirewatch.processors.rules import load_rules

    bootstrap = settings.kafka_bootstrap or ""
    async with KafkaPublisher(bootstrap) as publisher:
        poller = Poller(state=DirectoryStateStore(tmp / "state"), fetcher=make_fetcher(FetchSettings(), "wirewatch-test"),
                        publisher=publisher, raw_topic=settings.raw_topic, dead_letter_topic=settings.dead_letter_topic)
        results = await poller.poll_once([Source(id="drill-ok", url=f"{base_url}/feed.xml", kind="rss"),
                                          Source(id="drill-broken", url=f"{base_url}/broken", kind="rss")])
        assert [(r.source_id, r.outcome, len(r.items)) for r in results] == [
            ("drill-ok", "ok", 3), ("drill-broken", "http_status", 0)]
        processor = Processor(load_rules(FIXTURES / "metrics_rules.yaml"), EntityTagger([]), Deduper({}))
        for raw in await read_topic(bootstrap, settings.raw_topic):
            result = processor.process(raw)
            await publisher.publish(settings.processed_topic, result.item, key=result.item["id"])
            for alert in result.alerts:
                await publisher.publish(settings.alerts_topic, alert, key=alert["rule"])


@pytest.fixture(scope="module")
async def running_services(kafka_bootstrap: str, elasticsearch_url: str, prometheus_url: str,
                           prometheus_targets_dir: Path, tmp_path_factory: Any) -> AsyncIterator[str]:
    """Services running with traffic pushed; yields the scrape address ``127.0.0.1:port``."""
    from elasticsearch import AsyncElasticsearch

    uid = uuid.uuid4().hex[:10]
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, elasticsearch_url=elasticsearch_url,
                             topic_prefix=f"test-{uid}", index_prefix=f"test-{uid}", topic_partitions=1)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    tmp = tmp_path_factory.mktemp("metrics")
    runner, base_url = await _web(_http_server())
    address = f"127.0.0.1:{serve_metrics(0)}"
    target = prometheus_targets_dir / f"sinks-{uid}.json"
    target.write_text(json.dumps([{"targets": [address], "labels": {"test": f"sinks-{uid}"}}]), "utf-8")
    dest_file = tmp / "destinations.yaml"
    dest_file.write_text((FIXTURES / "metrics_destinations.yaml").read_text("utf-8").replace("{receiver}", base_url))
    destinations = load_destinations(dest_file, {"WW_TEST_HOOK_SECRET": "k"})
    indexer = Running(lambda stop: run_indexer(settings, group=f"idx-{uid}", stop=stop))
    notifier = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{uid}", stop=stop))
    client = AsyncElasticsearch(elasticsearch_url)
    try:
        await push_traffic(settings, base_url, tmp)
        for group, topics in ((f"idx-{uid}", [settings.processed_topic, settings.alerts_topic]),
                              (f"n-{uid}", [settings.alerts_topic])):
            await wait_for(functools.partial(_drained, kafka_bootstrap, group, topics), timeout=60)
        yield address
    finally:
        target.unlink(missing_ok=True)
        await indexer.stop()
        await notifier.stop()
        await runner.cleanup()
        await drop_prefix(client, settings.index_prefix)
        await client.close()


async def _drained(bootstrap: str, group: str, topics: list[str]) -> bool:
    return await committed_lag(bootstrap, group, topics) == 0


def _query(prometheus_url: str, expr: str) -> list[Any]:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def test_prometheus_every_grafana_panel_returns_data(running_services: str, prometheus_url: str):
    queries = panel_queries()
    assert len(queries) >= 13
    instance = running_services.replace(".", "\\\\.")
    pending = {title: expr.replace("$instance", instance).replace("$__rate_interval", "1m")
               for title, expr in queries}

    async def answered() -> bool:
        for title, expr in list(pending.items()):
            if await asyncio.to_thread(_query, prometheus_url, expr):
                del pending[title]
        return not pending

    try:
        await wait_for(answered, timeout=60, every=1.0)
    except AssertionError:
        raise AssertionError(f"panels without data: {sorted(pending)}") from None


async def test_prometheus_metrics_pass_promtool(running_services: str):
    assert shutil.which("promtool")
    with urllib.request.urlopen(f"http://{running_services}/metrics", timeout=10) as response:
        text = response.read()
    assert b"wirewatch_indexer_bulk_seconds_bucket" in text
    assert b"wirewatch_consumer_lag{" in text
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert (done.stdout + done.stderr).decode().strip() == ""
