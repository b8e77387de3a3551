"""Alert ids carry feed text (``<rule>:<source>:<entry id>``): every one must go out as a header.

An entry id in Chinese passes the poller's id check (``\\w`` is Unicode), and
``wirewatch process`` takes any id a raw item has: as a raw ``Idempotency-Key`` such an
id made httpx raise UnicodeEncodeError, which stopped the notifier for every destination.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import Destination, verify_signature

from .helpers import running_notifier, wait_for

SECRET = b"desk-secret"
IDS = ["quake:xinhua:新闻-2026", "quake:wire:a\r\nX-Injected: 1", "quake:wire:100%-sure", "quake:wire:plain-1"]


def alert(alert_id: str) -> dict[str, Any]:
    record = {
        "id": alert_id, "rule": "quake", "notify": ["desk"], "item_id": alert_id, "story_id": alert_id,
        "dedupe_status": "new", "title": "Quake", "url": "https://news.example/1", "source": {"id": "wire"},
        "published_at": "2026-11-27T10:00:00Z", "matched_at": "2026-11-27T10:00:01Z",
    }
    validate("alert", record)
    return record


async def test_every_alert_id_is_sent_as_an_ascii_idempotency_key_and_nothing_stops():
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    def desk(url: str) -> Destination:
        return Destination(name="desk", url=url, secret=SECRET, retries=0)

    async with running_notifier([alert(alert_id) for alert_id in IDS], "/desk", handle, desk) as (bus, task):
        await wait_for(lambda: asyncio.sleep(0, len(received) == len(IDS) or task.done()), timeout=15)
    assert bus.messages("dead-letter") == []
    keys = {json.loads(body)["id"]: headers["Idempotency-Key"] for headers, body in received}
    assert keys == {
        "quake:xinhua:新闻-2026": "quake:xinhua:%E6%96%B0%E9%97%BB-2026",
        "quake:wire:a\r\nX-Injected: 1": "quake:wire:a%0D%0AX-Injected:%201",
        "quake:wire:100%-sure": "quake:wire:100%25-sure",
        "quake:wire:plain-1": "quake:wire:plain-1",  # a plain id is the key as it is
    }
    assert all(unquote(key) == alert_id for alert_id, key in keys.items())
    assert all("X-Injected" not in headers for headers, _ in received)
    for headers, body in received:
        assert verify_signature(SECRET, headers["X-Wirewatch-Timestamp"], body, headers["X-Wirewatch-Signature"])
