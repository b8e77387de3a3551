"""Alerts once per event, end to end: a real ``wirewatch run`` polls eleven outlets' feeds (ten
write-ups of one bridge collapse, one verbatim copy) and three unrelated stories; a ``per: event``
rule notifies its webhook once per event, a ``per: story`` rule once per story.

Feeds are polled concurrently, so items arrive in any order; in about one order in six (measured
over 200 shuffles of this set) a write-up that shares little with those before it opens an event
of its own until a bridging item merges the two: that event id has had its own alert."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import defaultdict
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from wirewatch.core.times import parse_rfc3339
from wirewatch.embedded.demo_site import WebhookReceiver, serve
from wirewatch.sinks.sqlite import SqliteStore

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "ten_outlets.jsonl"
ITEMS = [json.loads(line) for line in FIX.read_text("utf-8").splitlines() if line.strip()]


def rss(items: list[dict[str, Any]]) -> str:
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['url'])}</link>"
        f'<guid isPermaLink="false">{i["id"]}</guid>'
        f"<pubDate>{format_datetime(parse_rfc3339(i['published_at']))}</pubDate>"
        f"<description>{escape(i['body'])}</description></item>" for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.org/</link><description>t</description>{entries}</channel></rss>")


def write_config(folder: Path, base: str, outlets: list[str]) -> list[str]:
    sources = {"sources": [{"id": o, "kind": "rss", "url": f"{base}/{o}.xml", "interval": "1s",
                            "full_text": "never"} for o in outlets],
               "fetch": {"min_host_delay": "0s"}}
    (folder / "sources.yaml").write_text(yaml.safe_dump(sources))
    hooks = {"destinations": {name: {"url": f"{base}/{name}", "timeout": "2s", "retries": 2, "backoff": "0.1s"}
                              for name in ("events", "stories")}}
    (folder / "destinations.yaml").write_text(yaml.safe_dump(hooks))
    rules = {"rules": [{"id": "desk", "query": "*", "per": "event", "notify": ["events"]},
                       {"id": "wire-desk", "query": "*", "per": "story", "notify": ["stories"]}]}
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules))
    return ["run", "--config", str(folder / "sources.yaml"), "--rules", str(folder / "rules.yaml"),
            "--destinations", str(folder / "destinations.yaml"), "--web", "off", "--ner", "off"]


async def test_ten_outlets_of_one_event_alert_a_per_event_rule_once(
        tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str) -> None:
    by_outlet: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in ITEMS:
        by_outlet[item["source"]["id"]].append(item)
    events, stories = WebhookReceiver(path="/events"), WebhookReceiver(path="/stories")
    app = web.Application()
    for receiver in (events, stories):
        receiver.routes(app)

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=rss(by_outlet[request.match_info["outlet"]]), content_type="application/rss+xml")

    app.router.add_get("/{outlet}.xml", feed)
    http, base = await serve(app)
    args = write_config(tmp_path, base, sorted(by_outlet))
    data = Path(wirewatch_env["WIREWATCH_DATA_DIR"])
    try:
        run = await asyncio.create_subprocess_exec(wirewatch_bin, *args, env=wirewatch_env,
                                                   stderr=asyncio.subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(stories.deliveries) < 13 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # two more polls: nothing new may arrive
        run.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(run.communicate(), 40)
        assert run.returncode == 0, stderr.decode()
    finally:
        await http.cleanup()

    store = SqliteStore(data)
    try:
        items = [hit.document for hit in store.search_sync("*", limit=100)]
    finally:
        await store.close()
    assert len(items) == len(ITEMS) == 14
    # an event first seen as two (a write-up sharing little with those before it) is merged when a
    # bridging item arrives: that item names the ids merged away; earlier items keep theirs
    into = {old: item["event_id"] for item in items for old in item.get("event_merged", [])}

    def resolved(event: str) -> str:
        while event in into:
            event = into[event]
        return event

    by_event: dict[str, set[str]] = defaultdict(set)
    for item in items:
        by_event[resolved(item["event_id"])].add(item["source"]["id"])
    assert sorted(len(outlets) for outlets in by_event.values()) == [1, 1, 1, 11]
    bridge = next(e for e, outlets in by_event.items() if len(outlets) > 1)
    assert {i["id"] for i in items if resolved(i["event_id"]) == bridge} == {
        f"{i['source']['id']}:{i['id']}" for i in ITEMS if i["id"].endswith("-bridge")}

    emitted = {item["event_id"] for item in items}  # = the four events, plus one id per merge
    assert len(emitted) == 4 + len(into)
    sent = [d["body"] for d in events.deliveries]
    assert sorted(a["event_id"] for a in sent) == sorted(emitted)  # one alert an event id
    assert sorted(a["id"] for a in sent) == sorted(f"desk:event:{e}" for e in emitted)
    assert all(a["per"] == "event" for a in sent)
    per_story = [d["body"]["id"] for d in stories.deliveries]
    assert len(per_story) == len(set(per_story)) == len({i["story_id"] for i in items}) == 13
