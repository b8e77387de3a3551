"""A feed that grows while a test runs, and a webhook receiver: served from 127.0.0.1."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from wirewatch.embedded.demo_site import WebhookReceiver, serve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "embedded"
WORDS = [f"w{n}" for n in range(400)]


def story(i: int) -> tuple[str, str]:
    """Title and body of generated story ``i``: distinct texts, every tenth one urgent."""
    rng = random.Random(i)
    body = " ".join(rng.choice(WORDS) for _ in range(40))
    title = f"Story {i} {'urgent ' if i % 10 == 0 else ''}{rng.choice(WORDS)}"
    return title, body


@dataclass
class GrowingFeed:
    visible: int = 0
    total: int = 240
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    base_url: str = ""

    def rss(self) -> str:
        items = []
        for i in range(min(self.visible, self.total)):
            title, body = story(i)
            items.append(
                f"<item><title>{escape(title)}</title><link>{self.base_url}/story/{i}</link>"
                f'<guid isPermaLink="false">s-{i}</guid>'
                f"<pubDate>{format_datetime(self.start + timedelta(minutes=i))}</pubDate>"
                f"<description>{escape(body)}</description></item>"
            )
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Growing</title>'
                f"<link>{self.base_url}/</link><description>test</description>{''.join(items)}</channel></rss>")

    def routes(self, app: web.Application) -> None:
        async def feed(_request: web.Request) -> web.Response:
            return web.Response(text=self.rss(), content_type="application/rss+xml")

        app.router.add_get("/feed.xml", feed)


async def start_sites(feed: GrowingFeed, receiver: WebhookReceiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    feed.routes(app)
    receiver.routes(app)
    runner, base = await serve(app)
    feed.base_url = base
    return runner, base
