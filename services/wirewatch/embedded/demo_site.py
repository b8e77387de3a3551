"""The demo's little internet: fictional outlets, a live blog, and a webhook receiver.

Everything is served from 127.0.0.1 from ``demo_data/scenario.yaml``: RSS
and Atom feeds carrying the same stories (wire original, rewrites with
bylines and tails, a tracking-tagged copy), and a live blog with
``LiveBlogPosting`` JSON-LD whose posts appear and get corrected as the
``stage`` advances. The receiver keeps every webhook delivery it gets.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml
from aiohttp import web

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


def load_scenario(path: Path = DEMO_DATA / "scenario.yaml") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    """One feed entry as an outlet publishes it."""

    guid: str
    link: str
    title: str
    body: str
    published: datetime


@dataclass
class DemoSite:
    """Serves the scenario; ``stage`` decides which entries and post versions exist."""

    scenario: dict[str, Any] = field(default_factory=load_scenario)
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    stage: int = 0
    base_url: str = ""

    @property
    def last_stage(self) -> int:
        stages = [e["stage"] for e in self.scenario["entries"]]
        stages += [p["stage"] for p in self.scenario["liveblog_posts"]]
        return max(stages)

    def entries(self, outlet_id: str) -> list[Entry]:
        """What ``outlet_id``'s feed carries at the current stage, newest first."""
        stories = self.scenario["stories"]
        out: list[Entry] = []
        for raw in self.scenario["entries"]:
            if raw["outlet"] != outlet_id or raw["stage"] > self.stage:
                continue
            story = stories.get(raw.get("story", ""), {})
            body = raw.get("body") or story["body"]
            body = " ".join(p for p in (raw.get("byline"), body, raw.get("tail")) if p)
            out.append(
                Entry(
                    guid=raw["guid"],
                    link=self.base_url + raw["link"],
                    title=raw.get("title") or story["title"],
                    body=body,
                    published=self.start + timedelta(minutes=raw["minutes"]),
                )
            )
        return sorted(out, key=lambda e: e.published, reverse=True)

    def posts(self) -> list[dict[str, Any]]:
        """Live-blog posts at the current stage: the latest version of each, newest first."""
        latest: dict[str, dict[str, Any]] = {}
        for post in self.scenario["liveblog_posts"]:
            if post["stage"] <= self.stage:
                latest[post["id"]] = post
        return sorted(latest.values(), key=lambda p: p["minutes"], reverse=True)

    # -- rendering -----------------------------------------------------------
    def rss(self, outlet: dict[str, Any]) -> str:
        items = []
        for e in self.entries(outlet["id"]):
            items.append(
                "<item>"
                f"<title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
                f'<guid isPermaLink="false">{escape(e.guid)}</guid>'
                f"<pubDate>{format_datetime(e.published)}</pubDate>"
                f"<description>{escape(e.body)}</description>"
                "</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(outlet['name'])}</title><link>{escape(self.base_url)}/</link>"
            f"<description>{escape(outlet['name'])} (Wirewatch demo)</description>"
            + (f"<language>{escape(outlet['language'])}</language>" if outlet.get("language") else "")
            + "".join(items)
            + "</channel></rss>\n"
        )

    def atom(self, outlet: dict[str, Any]) -> str:
        entries = self.entries(outlet["id"])
        updated = _iso(max((e.published for e in entries), default=self.start))
        parts = []
        for e in entries:
            parts.append(
                "<entry>"
                f"<title>{escape(e.title)}</title><id>{escape(e.guid)}</id>"
                f"<link rel=\"alternate\" href={quoteattr(e.link)}/>"
                f"<published>{_iso(e.published)}</published><updated>{_iso(e.published)}</updated>"
                f'<content type="text">{escape(e.body)}</content>'
                "</entry>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(outlet['name'])}</title><id>urn:demo:{escape(outlet['id'])}</id>"
            f"<updated>{updated}</updated>" + "".join(parts) + "</feed>\n"
        )

    def liveblog(self) -> str:
        blog = self.scenario["liveblog"]
        page_url = self.base_url + blog["path"]
        updates = []
        blocks = []
        for post in self.posts():
            published = self.start + timedelta(minutes=post["minutes"])
            modified = self.start + timedelta(minutes=post.get("modified_minutes", post["minutes"]))
            updates.append(
                {
                    "@type": "BlogPosting",
                    "@id": f"{page_url}#{post['id']}",
                    "headline": post["headline"],
                    "articleBody": post["body"],
                    "datePublished": _iso(published),
                    "dateModified": _iso(modified),
                }
            )
            blocks.append(
                f'<article class="block" id="{html.escape(post["id"])}"><time datetime="{_iso(published)}">'
                f"{_iso(published)}</time><h2>{html.escape(post['headline'])}</h2>"
                f"<p>{html.escape(post['body'])}</p>"
                '<div class="share">Share on social media</div></article>'
            )
        jsonld = {
            "@context": "https://schema.org",
            "@type": "LiveBlogPosting",
            "headline": blog["title"],
            "url": page_url,
            "coverageStartTime": _iso(self.start - timedelta(hours=1)),
            "liveBlogUpdate": updates,
        }
        script = json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/")
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(blog['title'])}</title>"
            f'<script type="application/ld+json">{script}</script></head><body>'
            "<nav>Home | World | Business | Sign in</nav>"
            f"<h1>{html.escape(blog['title'])}</h1>" + "".join(blocks)
            + "<aside class='newsletter'>Get the morning briefing by email</aside>"
            "<footer>(c) Meridian Wire (demo)</footer></body></html>"
        )

    def sources(self) -> list[dict[str, Any]]:
        """The ``sources.yaml`` entries pointing at this site (``base_url`` must be set)."""
        # full_text: never: the links of the demo's stories have no pages to fetch
        out = [
            {"id": o["id"], "name": o["name"], "kind": "rss", "url": self.base_url + o["path"], "full_text": "never"}
            for o in self.scenario["outlets"]
        ]
        blog = self.scenario["liveblog"]
        out.append(
            {"id": blog["id"], "name": blog["name"], "kind": "liveblog", "url": self.base_url + blog["path"]}
        )
        return out

    def routes(self, app: web.Application) -> None:
        for outlet in self.scenario["outlets"]:
            render = self.atom if outlet["format"] == "atom" else self.rss
            mime = "application/atom+xml" if outlet["format"] == "atom" else "application/rss+xml"
            app.router.add_get(outlet["path"], self._handler(render, outlet, mime))

        async def blog(_request: web.Request) -> web.Response:
            return web.Response(text=self.liveblog(), content_type="text/html", charset="utf-8")

        app.router.add_get(self.scenario["liveblog"]["path"], blog)

    @staticmethod
    def _handler(
        render: Callable[[dict[str, Any]], str], outlet: dict[str, Any], mime: str
    ) -> Callable[[web.Request], Any]:
        async def handle(_request: web.Request) -> web.Response:
            return web.Response(text=render(outlet), content_type=mime, charset="utf-8")

        return handle


@dataclass
class WebhookReceiver:
    """Keeps every delivery (body, headers); ``on_alert`` sees each one as it arrives."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    on_alert: Callable[[dict[str, Any]], None] | None = None
    path: str = "/hook"
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._receive)

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="expected JSON")
        self.deliveries.append({"body": body, "headers": dict(request.headers)})
        if self.on_alert is not None:
            self.on_alert(body)
        self._arrived.set()
        return web.json_response({"ok": True})

    def alerts(self) -> list[dict[str, Any]]:
        """Delivered alert bodies, in arrival order."""
        return [d["body"] for d in self.deliveries]


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start ``app`` on host:port; returns the runner and ``http://host:port``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = getattr(site, "_server", None)
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port
    return runner, f"http://{host}:{bound}"
