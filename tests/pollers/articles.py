"""A local publisher for the full-text tests: article pages next to the feed linking to them."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from wirewatch.core.schemas import validate
from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher
from wirewatch.pollers.rechecks import Recheck

from .helpers import FIXTURES, fast_policy, make_poller

ARTICLES = FIXTURES / "articles"

HARBOUR = (
    "The harbour authority on Monday approved a plan to dredge the inner channel at night, "
    "ending a two-year dispute with ferry operators who said daytime work was costing them sailings.\n"
    "Under the plan, dredgers will work between 10pm and 5am from January to March. Pilot Ingrid "
    "Haugen, who chairs the ferry operators' association, said the decision would keep the morning "
    "crossings on schedule.\n"
    "Residents of the Nordkai apartments had objected to the noise. The authority said it would fit "
    "the dredgers with acoustic screens and publish noise readings every week on its website.\n"
    "The channel silted up after the autumn storms, reducing its depth to 7.2 metres in places. "
    "Cargo vessels calling at the container terminal need at least 9 metres at low tide.\n"
    "Work is expected to cost 48 million kroner, shared between the authority and the regional "
    "government."
)
TEASER = "Ferry operators win a two-year dispute over daytime dredging."


@dataclass
class Pages:
    """A local publisher: path -> (bytes, Content-Type); counts requests per path."""

    base: str = ""
    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """The last request's headers per ``host + path``."""
    validators: bool = False
    """Answer with an ETag (a hash of the body) and Last-Modified, and 304 to a matching If-None-Match."""
    last_modified: str = "Mon, 30 Nov 2026 08:00:00 GMT"
    not_modified: dict[str, int] = field(default_factory=dict)
    """304 answers per path."""

    def serve(
        self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8"
    ) -> str:
        self.routes[path] = (body.encode() if isinstance(body, str) else body, content_type)
        return self.base + path

    def article(
        self, path: str, fixture: str, content_type: str = "text/html; charset=utf-8"
    ) -> str:
        return self.serve(path, (ARTICLES / fixture).read_bytes(), content_type)

    def page_hits(self) -> int:
        return sum(n for path, n in self.hits.items() if path != "/feed.xml")


@asynccontextmanager
async def serving() -> AsyncIterator[Pages]:
    """A :class:`Pages` publisher listening on 127.0.0.1 (the ``pages`` fixture)."""
    site = Pages()

    async def handle(request: web.Request) -> web.Response:
        site.hits[request.path] = site.hits.get(request.path, 0) + 1
        site.headers[request.host.split(":")[0] + request.path] = dict(request.headers)
        if request.path not in site.routes:
            return web.Response(status=404, text="not found")
        body, ctype = site.routes[request.path]
        headers = {"Content-Type": ctype}
        if site.validators:
            headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:12] + '"'
            headers["Last-Modified"] = site.last_modified
            if request.headers.get("If-None-Match") == headers["ETag"]:
                site.not_modified[request.path] = site.not_modified.get(request.path, 0) + 1
                return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    site.base = f"http://127.0.0.1:{port}"
    try:
        yield site
    finally:
        await runner.cleanup()


def rss(*entries: dict[str, str]) -> str:
    """A summary-only RSS 2.0 feed: title, link, description, optional pubDate/atom:updated."""
    items = []
    for e in entries:
        extra = f"<pubDate>{e['pubDate']}</pubDate>" if "pubDate" in e else ""
        extra += f"<atom:updated>{e['updated']}</atom:updated>" if "updated" in e else ""
        items.append(
            f"<item><title>{escape(e['title'])}</title><link>{e['link']}</link>"
            f'<guid isPermaLink="false">{e["guid"]}</guid>'
            f"<description>{escape(e['description'])}</description>{extra}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Courier</title>'
        f"<link>https://courier.example/</link>{''.join(items)}</channel></rss>"
    )


def entry(
    guid: str, link: str, title: str, description: str = TEASER, **extra: str
) -> dict[str, str]:
    return {"guid": guid, "link": link, "title": title, "description": description, **extra}


async def poll(
    pages: Pages,
    tmp_path: Path,
    mode: str,
    *entries: dict[str, str],
    recheck: Recheck | None = None,
    outcome: str = "ok",
) -> list[dict[str, Any]]:
    """One poll of a feed listing ``entries`` by a new poller on the same state directory
    (as after a restart); the emitted items, each checked against the schema."""
    pages.serve("/feed.xml", rss(*entries), "application/rss+xml")
    source = Source(id="courier", kind="rss", url=pages.base + "/feed.xml", full_text=mode)  # type: ignore[arg-type]
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher, recheck=recheck)
        result = await poller.poll_source(source)
    assert result.outcome == outcome, result.reason
    for item in result.items:
        validate("raw_item", item)
    return result.items


