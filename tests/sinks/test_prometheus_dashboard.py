"""Every Grafana panel's PromQL parses on the real Prometheus and returns data from the real services.

The services run in-process (poller -> processor stage -> Kafka -> indexer -> Elasticsearch,
notifier -> webhooks) behind one ``/metrics`` endpoint on 127.0.0.1, registered with the local
Prometheus through a file_sd target file that is removed at the end.

The dashboard also imports: Grafana's import fills ``${DS_PROMETHEUS}`` from ``__inputs``
(its DashTemplateEvaluator, re-enacted here), and the provisioned copy, which Grafana loads
without evaluating ``__inputs`` (grafana/grafana#10786), resolves ``${DS_PROMETHEUS}`` through
a dashboard variable of type datasource set to the provisioned datasource's uid.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from wirewatch.bus.base import Message
from wirewatch.bus.kafka import KafkaPublisher, ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.metrics import serve_metrics
from wirewatch.sinks.destinations import load_destinations
from wirewatch.sinks.indexer import run_indexer
from wirewatch.sinks.notifier import run_notifier

from .helpers import FIXTURES, Running, committed_lag, drop_prefix, read_topic, wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.kafka, pytest.mark.elastic]

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "wirewatch.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
#: Panels on the pollers' source-health gauges (the traffic below polls with a SourceHealth).
SOURCE_HEALTH_PANELS = {
    "Staleness ratio per source (3+ = quiet)",
    "Time since the last new item per source",
    "Quiet sources (staleness ratio > 3)",
    "Failing sources",
}
#: Panels that may stay empty after the traffic: "Quiet sources" lists only sources 3x past their
#: usual gap, and the test's feed is not.
MAY_BE_EMPTY = {"Quiet sources (staleness ratio > 3)"}


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text("utf-8")))


def panel_queries() -> list[tuple[str, str]]:
    return [(f"{panel['title']} {target['refId']}", target["expr"])
            for panel in load_dashboard()["panels"] for target in panel["targets"]]


def as_prometheus_sees_it(expr: str, instance: str = ".*") -> str:
    """A panel's expression with Grafana's variables filled in as Grafana would."""
    return expr.replace("$instance", instance).replace("$__rate_interval", "1m")


def datasource_refs(node: Any) -> list[Any]:
    """Every ``datasource`` value in the dashboard: panels, targets, variables."""
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [ref for key, value in node.items() for ref in datasource_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in datasource_refs(value)]
    return []


_VARIABLE = re.compile(r"\$\{.+?\}")


def grafana_import(dashboard: dict[str, Any], inputs: dict[str, str]) -> dict[str, Any]:
    """What Grafana's dashboard import does with ``__inputs`` (pkg/services/dashboardimport/utils/
    dash_template_evaluator.go): each declared input must be given, every ``${NAME}`` in any string
    becomes its value, ``__inputs`` is dropped."""
    values = {}
    for declared in dashboard.get("__inputs", []):
        if declared["name"] not in inputs:
            raise AssertionError(f"Dashboard input variable: {declared['name']} missing from import command")
        values["${" + declared["name"] + "}"] = inputs[declared["name"]]

    def evaluate(node: Any) -> Any:
        if isinstance(node, str):
            return _VARIABLE.sub(lambda m: values.get(m.group(0), m.group(0)), node)
        if isinstance(node, dict):
            return {key: evaluate(value) for key, value in node.items() if key != "__inputs"}
        if isinstance(node, list):
            return [evaluate(value) for value in node]
        return node

    return dict(evaluate(dashboard))


def test_grafana_dashboard_declares_its_datasource_as_an_import_input() -> None:
    dashboard = load_dashboard()
    assert dashboard["__inputs"] == [{
        "name": "DS_PROMETHEUS", "label": "Prometheus", "description": "The Prometheus that scrapes the Wirewatch services",
        "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
    }]
    refs = datasource_refs(dashboard["panels"]) + datasource_refs(dashboard["templating"])
    panels = dashboard["panels"]
    assert len(refs) == len(panels) + sum(len(p["targets"]) for p in panels) + 1  # panels, targets, $instance
    assert all(ref == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"} for ref in refs), refs
    assert "wirewatch-prometheus" not in json.dumps(dashboard["panels"])


def test_grafana_ui_import_points_every_query_at_the_chosen_datasource() -> None:
    imported = grafana_import(load_dashboard(), {"DS_PROMETHEUS": "P1809F7CD0C75ACF3"})
    assert "__inputs" not in imported and "${DS_PROMETHEUS}" not in json.dumps(imported)
    refs = datasource_refs(imported["panels"]) + datasource_refs(imported["templating"])
    assert refs and all(ref == {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"} for ref in refs)
    with pytest.raises(AssertionError, match="DS_PROMETHEUS missing from import command"):
        grafana_import(load_dashboard(), {})


def test_grafana_provisioned_dashboard_resolves_the_datasource_through_a_variable() -> None:
    """Provisioning loads the file as it is: ``${DS_PROMETHEUS}`` must name a dashboard variable."""
    provisioned = yaml.safe_load(DATASOURCES.read_text("utf-8"))["datasources"]
    (prometheus,) = [ds for ds in provisioned if ds["type"] == "prometheus"]
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    variable = variables["DS_PROMETHEUS"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    assert variable["current"]["value"] == prometheus["uid"] == "wirewatch-prometheus"
    assert list(variables) == ["DS_PROMETHEUS", "instance"]  # defined before the variable that queries it


def test_grafana_dashboard_has_latency_and_source_health_panels() -> None:
    exprs = {title: expr for title, expr in panel_queries()}
    latency = 'rate(wirewatch_processor_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval])'
    assert [exprs[f"Processor latency (p50, p95, p99) {ref}"] for ref in "ABC"] == [
        f"histogram_quantile({q}, sum by (le) ({latency}))" for q in ("0.5", "0.95", "0.99")]
    ratio = 'max by (source) (wirewatch_poller_staleness_ratio{instance=~"$instance"})'
    since_item = 'time() - max by (source) (wirewatch_poller_last_item_timestamp_seconds{instance=~"$instance"})'
    failures = 'max by (source) (wirewatch_poller_consecutive_failures{instance=~"$instance"}) > 0'
    assert exprs["Staleness ratio per source (3+ = quiet) A"] == ratio
    assert exprs["Time since the last new item per source A"] == since_item
    assert exprs["Quiet sources (staleness ratio > 3) A"] == f"{ratio} > 3"
    assert exprs["Quiet sources (staleness ratio > 3) B"] == f"({since_item}) and on (source) ({ratio} > 3)"
    assert exprs["Failing sources A"] == failures
    assert exprs["Failing sources B"] == (
        '(time() - max by (source) (wirewatch_poller_last_success_timestamp_seconds{instance=~"$instance"})) '
        f"and on (source) ({failures})")
    health = re.compile(r"wirewatch_poller_(last_success_timestamp_seconds|last_item_timestamp_seconds|"
                        r"consecutive_failures|staleness_ratio)\b")
    on_health = {p["title"] for p in load_dashboard()["panels"] if any(health.search(t["expr"]) for t in p["targets"])}
    assert on_health == SOURCE_HEALTH_PANELS


async def _web(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _http_server() -> web.Application:
    """The feed (ok), a broken source (500), a flaky one (ok once, then 500), a webhook that accepts
    and one that is down (503)."""
    feed = (FIXTURES / "feed.xml").read_bytes()

    async def ok_feed(_request: web.Request) -> web.Response:
        return web.Response(body=feed, content_type="application/rss+xml")

    async def status(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status={"hook": 204, "dead": 503, "broken": 500}[request.match_info["name"]])

    served = {"flaky": 0}

    async def flaky_feed(_request: web.Request) -> web.Response:  # answers once (no items), then fails
        served["flaky"] += 1
        empty = b'<rss version="2.0"><channel><title>Flaky</title></channel></rss>'
        return web.Response(body=empty, content_type="application/rss+xml") if served["flaky"] == 1 else \
            web.Response(status=500)

    app = web.Application()
    app.router.add_get("/feed.xml", ok_feed)
    app.router.add_get("/flaky.xml", flaky_feed)
    app.router.add_route("*", "/{name}", status)
    return app


async def push_traffic(settings: Settings, base_url: str, tmp: Path) -> None:
    """Poll two sources, process the raw items, and let indexer and notifier drain them."""
    from wirewatch.pollers.config import FetchSettings, Source
    from wirewatch.pollers.health import SourceHealth
    from wirewatch.pollers.poller import Poller, make_fetcher
    from wirewatch.pollers.state import DirectoryStateStore
    from wirewatch.processors.dedupe import Deduper
    from wirewatch.processors.entities import EntityTagger
    from wirewatch.processors.pipeline import Processor
    from wirewatch.processors.rules import load_rules
    from wirewatch.processors.stage import Stage

    bootstrap = settings.kafka_bootstrap or ""
    async with KafkaPublisher(bootstrap) as publisher:
        sources = [Source(id="drill-ok", url=f"{base_url}/feed.xml", kind="rss"),
                   Source(id="drill-broken", url=f"{base_url}/broken", kind="rss")]
        poller = Poller(state=DirectoryStateStore(tmp / "state"), fetcher=make_fetcher(FetchSettings(), "wirewatch-test"),
                        publisher=publisher, raw_topic=settings.raw_topic, dead_letter_topic=settings.dead_letter_topic,
                        health=SourceHealth(sources))
        flaky = [Source(id="drill-flaky", url=f"{base_url}/flaky.xml", kind="rss")]
        assert [r.outcome for r in await poller.poll_once(flaky)] == ["ok"]
        assert [r.outcome for r in await poller.poll_once(flaky)] == ["http_status"]  # failing since a success
        results = await poller.poll_once(sources)
        assert [(r.source_id, r.outcome, len(r.items)) for r in results] == [
            ("drill-ok", "ok", 3), ("drill-broken", "http_status", 0)]
        stage = Stage(Processor(load_rules(FIXTURES / "metrics_rules.yaml"), EntityTagger([]), Deduper({})))
        read_ms = int(time.time() * 1000)
        messages = [Message(settings.raw_topic, 0, offset, None, raw, json.dumps(raw).encode(), read_ms)
                    for offset, raw in enumerate(await read_topic(bootstrap, settings.raw_topic))]
        out = stage.process(messages)  # observes wirewatch_processor_latency_seconds
        assert len(out.results) == 3 and not out.dead_letters
        for result in out.results:
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


def test_prometheus_parses_every_grafana_panel_query(prometheus_url: str) -> None:
    """A query Prometheus cannot parse is a 400 (``bad_data``); an empty answer is a success."""
    queries = panel_queries()
    assert len(queries) == 23
    for title, expr in queries:
        try:
            _query(prometheus_url, as_prometheus_sees_it(expr))
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{title}: {exc.read().decode()}") from None


async def test_prometheus_every_grafana_panel_returns_data(running_services: str, prometheus_url: str):
    queries = [(title, expr) for title, expr in panel_queries() if title.rsplit(" ", 1)[0] not in MAY_BE_EMPTY]
    assert len(queries) == 21
    instance = running_services.replace(".", "\\\\.")
    pending = {title: as_prometheus_sees_it(expr, instance) for title, expr in queries}

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
