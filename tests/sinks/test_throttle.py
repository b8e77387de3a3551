"""Rule throttle: after a rule notified a destination, its next alerts within the window wait."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import Destination
from wirewatch.sinks.notifier import DeliveredLog

from .helpers import running_notifier, wait_for


def alert(story: str, matched_at: str, throttle: float | None = 600.0, rule: str = "quake") -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"{rule}:{story}",
        "rule": rule,
        "notify": ["desk"],
        "item_id": story,
        "story_id": story,
        "dedupe_status": "new",
        "title": f"Story {story}",
        "url": f"https://news.example/{story}",
        "source": {"id": "wire"},
        "published_at": "2026-11-27T10:00:00Z",
        "matched_at": matched_at,
    }
    if throttle is not None:
        record["throttle_seconds"] = throttle
    validate("alert", record)
    return record


async def test_throttle_holds_back_alerts_of_a_rule_inside_its_window() -> None:
    received: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(request.headers["Idempotency-Key"])
        return web.Response(status=204)

    alerts = [
        alert("s1", "2026-11-27T10:00:00Z"),
        alert("s2", "2026-11-27T10:05:00Z"),  # 5 min later: held back
        alert("s3", "2026-11-27T10:10:00Z"),  # exactly 10 min later: window over, sent
        alert("s4", "2026-11-27T10:11:00Z", rule="other"),  # another rule: its own window
        alert("s5", "2026-11-27T10:12:00Z", throttle=None, rule="plain"),
        alert("s6", "2026-11-27T10:12:30Z", throttle=None, rule="plain"),  # no throttle: sent
    ]
    delivered = DeliveredLog()

    def desk(url: str) -> Destination:
        return Destination(name="desk", url=url)

    async with running_notifier(alerts, "/desk", handle, desk, delivered) as (bus, _):
        await wait_for(lambda: asyncio.sleep(0, len(received) >= 5), timeout=10)
        await wait_for(lambda: asyncio.sleep(0, len(delivered) == 6), timeout=10)
    assert sorted(received) == ["other:s4", "plain:s5", "plain:s6", "quake:s1", "quake:s3"]
    assert "desk|quake:s2" in delivered  # recorded, so a replay does not send it either
    assert bus.messages("dead-letter") == []
