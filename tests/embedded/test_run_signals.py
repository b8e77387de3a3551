"""Spike, new-entity and silence rules in `wirewatch run`, killed (SIGKILL) and started again:
windows, learned entities and silences come back from the SQLite memory; each alert is sent once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml
from aiohttp import web

from wirewatch.embedded.demo_site import WebhookReceiver, serve
from wirewatch.sinks.sqlite import SqliteStore

RULES = {"rules": [
    {"id": "zelensky-spike", "kind": "spike", "entity": "Volodymyr Zelensky", "window": "20s", "baseline": "25s",
     "min_count": 3, "factor": 3, "notify": ["hook"]},
    {"id": "new-port", "kind": "new_entity", "query": "port", "types": ["place"], "learn": "10s", "notify": ["hook"]},
    {"id": "quiet-early", "kind": "silence", "source": "quiet1", "for": "12s", "notify": ["hook"]},
    {"id": "quiet-late", "kind": "silence", "source": "quiet2", "for": "45s", "notify": ["hook"]},
]}


@dataclass
class Feeds:
    """RSS feeds by name, each a list of (title, body) the test appends to."""

    items: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: {"wire": [], "quiet1": [], "quiet2": []})
    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))

    def add(self, feed: str, title: str) -> None:
        n = sum(len(v) for v in self.items.values())
        body = " ".join(f"{feed}{n}w{i}" for i in range(40))  # distinct words: never near-duplicates
        self.items[feed].append((title, body))

    def rss(self, feed: str) -> str:
        items = "".join(
            f"<item><title>{escape(title)}</title><link>https://{feed}.example/{i}</link>"
            f'<guid isPermaLink="false">{feed}-{i}</guid>'
            f"<pubDate>{format_datetime(self.start + timedelta(minutes=i))}</pubDate>"
            f"<description>{escape(body)}</description></item>"
            for i, (title, body) in enumerate(self.items[feed])
        )
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                f"<link>https://{feed}.example/</link><description>t</description>{items}</channel></rss>")

    def routes(self, app: web.Application) -> None:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=self.rss(request.match_info["feed"]), content_type="application/rss+xml")

        app.router.add_get("/{feed}.xml", handle)


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_signal_rules_survive_a_sigkill_of_wirewatch_run(
    tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str
) -> None:
    feeds, receiver = Feeds(), WebhookReceiver()
    app = web.Application()
    feeds.routes(app)
    receiver.routes(app)
    http, base = await serve(app)
    sources = {"sources": [{"id": name, "kind": "rss", "url": f"{base}/{name}.xml", "interval": "0.3s"}
                           for name in ("wire", "quiet1", "quiet2")], "fetch": {"min_host_delay": "0s"}}
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    hooks = {"destinations": {"hook": {"url": f"{base}/hook", "timeout": "2s", "retries": 2, "backoff": "0.1s"}}}
    (tmp_path / "destinations.yaml").write_text(yaml.safe_dump(hooks))
    args = ["run", "--config", str(tmp_path / "sources.yaml"), "--rules", str(tmp_path / "rules.yaml"),
            "--destinations", str(tmp_path / "destinations.yaml"), "--web", "off", "--ner", "off"]
    store = SqliteStore(Path(wirewatch_env["WIREWATCH_DATA_DIR"]))
    runs: list[asyncio.subprocess.Process] = []

    def alerts(kind: str) -> list[dict[str, Any]]:
        return [a for a in receiver.alerts() if a.get("kind") == kind]

    async def start() -> None:
        runs.append(await asyncio.create_subprocess_exec(wirewatch_bin, *args, env=wirewatch_env,
                                                         stderr=asyncio.subprocess.DEVNULL))

    def stored() -> int:
        try:
            return store.count_sync()
        except Exception:  # the data file is not there yet
            return 0

    try:
        feeds.add("quiet1", "Quiet wire one opens")
        feeds.add("quiet2", "Quiet wire two opens")
        feeds.add("wire", "Port of Rotterdam strike begins")
        await start()
        await wait_for(lambda: stored() >= 3, 60, "the first items")
        first = time.monotonic()  # every rule's clock started by now (processing time)
        await wait_for(lambda: len(alerts("silence")) == 1, 30, "the early silence")
        await asyncio.sleep(max(0.0, first + 34 - time.monotonic()))
        feeds.add("wire", "Zelensky meets envoys, round 1")
        feeds.add("wire", "Zelensky meets envoys, round 2")
        await wait_for(lambda: stored() >= 5, 20, "two mentions")
        runs[0].send_signal(signal.SIGKILL)
        await runs[0].wait()
        await start()
        # 1.67 s buckets: the window of an item handled at +46 to +52 s starts between +26 and +34 s
        # (rounds 1 and 2 in it), and its 25 s baseline after the rules' clocks started
        await asyncio.sleep(max(0.0, first + 46 - time.monotonic()))
        feeds.add("wire", "Zelensky meets envoys, round 3")
        feeds.add("wire", "Port of Antwerp joins strike")
        feeds.add("wire", "Port of Rotterdam strike ends")
        await wait_for(lambda: stored() >= 8, 30, "the items after the restart")
        await wait_for(lambda: len(alerts("silence")) == 2, 40, "the late silence")
        feeds.add("wire", "Zelensky meets envoys, round 4")
        await wait_for(lambda: stored() >= 9, 20, "the last mention")
        await asyncio.sleep(6)  # another silence check: nothing fires again
        spikes = alerts("spike")
        assert [(a["title"].rsplit(": ", 1)[1], a["figures"]["count"], a["figures"]["baseline_count"])
                for a in spikes] == [("Zelensky meets envoys, round 3", 3, 0)]
        assert [a["id"] for a in alerts("new_entity")] == ["new-port:new_entity:antwerp"]
        assert [a["rule"] for a in alerts("silence")] == ["quiet-early", "quiet-late"]
        assert len({a["id"] for a in receiver.alerts()}) == len(receiver.alerts())  # each sent once
    finally:
        for run in runs:
            if run.returncode is None:
                run.send_signal(signal.SIGTERM)
                await asyncio.wait_for(run.wait(), 30)
        await http.cleanup()


async def test_the_rules_page_shows_a_signal_rule_by_kind_and_what_it_watches(tmp_path: Path) -> None:
    import aiohttp

    from wirewatch.embedded.console import attach
    from wirewatch.embedded.web import create_app, start_web
    from wirewatch.processors.rules import Rule

    rules = [Rule.model_validate(r) for r in RULES["rules"]]
    store = SqliteStore(tmp_path)
    app = create_app(store, store)
    attach(app, rules=lambda: rules)
    runner, url = await start_web(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "rules") as response:
            page = await response.text()
        assert response.status == 200
        assert page.count('<dd class="kind">') == 4
        assert '<code class="query" dir="auto">source:quiet1</code>' in page
        assert '<code class="query" dir="auto">entity:&#34;Volodymyr Zelensky&#34;</code>' in page
        assert page.count('class="backtest-link"') == 2  # the spike's entity and new-port's query
    finally:
        await runner.cleanup()
        await store.close()
