"""The rules page says how each rule alerts: ``per``, ``re_alert``, its digest and its mute
windows, beside notify, throttle and on update (what #19 added to ``rules.yaml``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from wirewatch.embedded.console import attach
from wirewatch.embedded.web import AlertRing, create_app, start_web
from wirewatch.processors.rules import Rule, load_rules
from wirewatch.sinks.sqlite import SqliteStore

RULES = """
rules:
  - id: plain
    query: quake
    notify: [desk]
  - id: bridge
    query: "bridge AND collapse"
    notify: [desk]
    per: event
    re_alert: 6h
    digest: {cron: "0 7 * * *", tz: Europe/Paris, max_items: 20}
    mute:
      - {cron: "0 22 * * *", for: 8h, tz: Europe/Paris}
      - {from: "2026-12-24T18:00:00Z", until: "2026-12-26T06:00:00Z"}
  - id: hourly
    query: markets
    digest: {every: 1h}
"""


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "rules.yaml").write_text(RULES, "utf-8")
    rules: list[Rule] = list(load_rules(tmp_path / "rules.yaml").rules)
    store = SqliteStore(tmp_path / "data")
    await store.setup()
    app = create_app(store, AlertRing())
    attach(app, rules=lambda: rules)
    runner, url = await start_web(app, "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()
        await store.close()


def options(html: str, rule: str) -> list[tuple[str, str]]:
    card = re.search(rf'<li class="rule-card" data-rule="{rule}">(.*?)</li>', html, re.S)
    assert card is not None
    return [(dt, re.sub(r"\s+", " ", dd).strip())
            for dt, dd in re.findall(r"<dt>([^<]*)</dt><dd[^>]*>([^<]*)</dd>", card.group(1))]


async def test_each_rule_card_says_per_re_alert_digest_and_mute(console: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(console + "rules") as response:
        assert response.status == 200
        html = await response.text()
    assert options(html, "plain") == [("notify", "desk"), ("throttle", "none"), ("on update", "no")]
    assert options(html, "bridge") == [
        ("notify", "desk"), ("throttle", "none"), ("on update", "no"),
        ("per", "event"), ("re-alert", "after 6 h"),
        ("digest", "cron 0 7 * * * (Europe/Paris), at most 20 events"),
        ("muted", "cron 0 22 * * * for 8 h (Europe/Paris); 2026-12-24T18:00:00Z until 2026-12-26T06:00:00Z"),
    ]
    assert options(html, "hourly") == [
        ("notify", "nobody (stored only)"), ("throttle", "none"), ("on update", "no"),
        ("digest", "every 1 h, at most 50 events"),
    ]
