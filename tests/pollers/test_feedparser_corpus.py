"""feedparser's own test corpus, every file polled over HTTP: no crash, clear errors, no hostile markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher
from wirewatch.pollers.poller import Poller
from wirewatch.pollers.state import MemoryStateStore

from .helpers import Collecting, Site, fast_policy

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "feedparser"
HOSTILE = re.compile(
    r"<\s*script|javascript:|vbscript:|\bon[a-z]+\s*=|expression\s*\(|<\s*iframe|<\s*object", re.I
)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


async def test_every_corpus_file(site: Site) -> None:
    files = sorted(p for p in CORPUS.rglob("*.xml"))
    if not files:
        pytest.fail(f"feedparser corpus missing at {CORPUS}", pytrace=False)
    sources = []
    for path in files:
        rel = path.relative_to(CORPUS).as_posix()
        site.serve(f"/{rel}", path.read_bytes(), headers={"Content-Type": "application/xml"})
        sources.append(Source(id=rel.replace("/", ":"), kind="rss", url=site.url(f"/{rel}")))
    publisher = Collecting()
    async with Fetcher(fast_policy(total_timeout=30.0, read_timeout=30.0)) as fetcher:
        poller = Poller(
            state=MemoryStateStore(),
            fetcher=fetcher,
            publisher=publisher,
            raw_topic="t.raw",
            dead_letter_topic="t.dead-letter",
            concurrency=64,
        )
        results = await poller.poll_once(sources)

    assert len(results) == len(files)
    allowed = {"ok", "parse", "unsafe_xml"}
    assert {r.outcome for r in results} <= allowed, {
        r.source_id: r.reason for r in results if r.outcome not in allowed
    }
    failed = [r for r in results if r.failed]
    for result in failed:
        assert result.reason and "\n" not in result.reason and "Traceback" not in result.reason
    ok = [r for r in results if not r.failed]
    assert len(ok) > 0.9 * len(results)
    items = [m[2] for m in publisher.messages if m[0] == "t.raw"]
    sanitize = [i for i in items if i["source"]["id"].startswith("wellformed:sanitize:")]
    assert len(sanitize) > 500
    leaks = [(i["source"]["id"], s) for i in items for s in strings(i) if HOSTILE.search(s)]
    assert leaks == []
    assert [m for m in publisher.messages if m[0] == "t.dead-letter"] == []
