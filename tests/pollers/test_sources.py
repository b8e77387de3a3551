"""Each source kind polled, changed (new post, edited post, removed post) and polled again."""

from __future__ import annotations

from pathlib import Path

from wirewatch.core.schemas import validate
from wirewatch.pollers.config import LiveblogSelectors, Source
from wirewatch.pollers.http import Fetcher
from wirewatch.pollers.poller import PollResult

from .helpers import Site, fast_policy, fixture_bytes, make_poller, summary

SELECTORS = LiveblogSelectors(
    block="article.block",
    id_attr="data-block-id",
    time="time[datetime]",
    title="h2",
    body="div.block-elements",
)


async def poll_twice(
    site: Site, tmp_path: Path, source: Source, v1: bytes, v2: bytes, ctype: str
) -> tuple[PollResult, PollResult]:
    path = source.url.split(str(site.port), 1)[1]
    site.serve(path, v1, headers={"Content-Type": ctype})
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        first = await poller.poll_source(source)
        again = await poller.poll_source(source)
        site.serve(path, v2, headers={"Content-Type": ctype})
        second = await poller.poll_source(source)
    for item in first.items + second.items:
        validate("raw_item", item)
    assert again.outcome == "ok" and again.items == [], "unchanged document re-emitted"
    return first, second


async def test_rss_new_edited_removed(site: Site, tmp_path: Path) -> None:
    source = Source(
        id="wire", name="Example Wire", kind="rss", url=site.url("/rss.xml"), tags=["world"]
    )
    first, second = await poll_twice(
        site,
        tmp_path,
        source,
        fixture_bytes("rss_v1.xml"),
        fixture_bytes("rss_v2.xml"),
        "application/rss+xml",
    )
    assert summary(first.items) == [
        (
            "wire:wire-1",
            1,
            "Quake hits coastal region",
            "A strong earthquake struck.\n\nNo tsunami warning.",
        ),
        ("wire:wire-2", 1, "Markets open lower", "Stocks fell at the open."),
        ("wire:https://news.example/storm", 1, "Storm warning issued", "Winds up to 120 km/h."),
    ]
    quake = dict(first.items[0])
    assert quake.pop("fetched_at").endswith("Z")
    assert quake.pop("content_hash")
    assert quake == {
        "id": "wire:wire-1",
        "source": {"id": "wire", "name": "Example Wire"},
        "url": "https://news.example/quake",
        "title": "Quake hits coastal region",
        "body": "A strong earthquake struck.\n\nNo tsunami warning.",
        "published_at": "2026-03-03T09:15:00Z",
        "language": "en",
        "tags": ["world"],
        "revision": 1,
    }
    # v2: wire-4 new, wire-1 edited, wire-2 removed (nothing emitted), storm unchanged.
    assert summary(second.items) == [
        ("wire:wire-4", 1, "Ceasefire talks resume", "Delegations met in Geneva."),
        (
            "wire:wire-1",
            2,
            "Quake hits coastal region",
            "A strong earthquake struck.\n\nA tsunami warning was issued.",
        ),
    ]
    assert second.items[1]["content_hash"] != first.items[0]["content_hash"]


async def test_atom_new_edited_removed(site: Site, tmp_path: Path) -> None:
    source = Source(id="agence", kind="auto", url=site.url("/atom.xml"))
    first, second = await poll_twice(
        site,
        tmp_path,
        source,
        fixture_bytes("atom_v1.xml"),
        fixture_bytes("atom_v2.xml"),
        "application/atom+xml",
    )
    assert summary(first.items) == [
        (
            "agence:tag:agence.example,2026:1",
            1,
            "Élections : premiers résultats",
            "Participation en hausse.",
        ),
        ("agence:tag:agence.example,2026:2", 1, "Grève des transports", "Trafic perturbé."),
        ("agence:tag:agence.example,2026:3", 1, "Météo", "Beau temps."),
    ]
    first_entry = first.items[0]
    assert (first_entry["published_at"], first_entry["updated_at"]) == (
        "2026-03-03T08:00:00Z",
        "2026-03-03T08:30:00Z",
    )
    assert first_entry["authors"] == ["Claire Dupont"] and first_entry["language"] == "fr"
    assert summary(second.items) == [
        ("agence:tag:agence.example,2026:4", 1, "Sommet européen", "Ouverture à Bruxelles."),
        (
            "agence:tag:agence.example,2026:2",
            2,
            "Grève des transports prolongée",
            "Trafic perturbé.",
        ),
    ]


async def test_liveblog_json_ld(site: Site, tmp_path: Path) -> None:
    source = Source(id="election-live", kind="liveblog", url=site.url("/live/election"))
    first, second = await poll_twice(
        site,
        tmp_path,
        source,
        fixture_bytes("liveblog_jsonld_v1.html"),
        fixture_bytes("liveblog_jsonld_v2.html"),
        "text/html; charset=utf-8",
    )
    page = source.url
    assert [(i["id"], i["title"], i["body"], i["published_at"], i["liveblog"]) for i in first.items] == [
        ("election-live:post-3", "Polls close in the east", "Counting has begun in 12 districts.",
         "2026-03-03T19:00:00Z", {"page_url": page, "block_id": "post-3"}),
        ("election-live:post-2", "Turnout high", "Turnout reached 61%.",
         "2026-03-03T18:30:00Z", {"page_url": page, "block_id": "post-2"}),
        ("election-live:post-1", "Welcome", "Follow our coverage here.",
         "2026-03-03T18:00:00Z", {"page_url": page, "block_id": "post-1"}),
    ]  # fmt: skip
    assert first.items[0]["url"] == "https://live.example/election#post-3"
    assert first.items[0]["authors"] == ["Sam Reporter"]
    # v2: post-4 new, post-2 edited, post-1 removed, post-3 unchanged.
    assert summary(second.items) == [
        ("election-live:post-4", 1, "First results", "The incumbent leads with 48%."),
        ("election-live:post-2", 2, "Turnout high", "Turnout reached 64%, a record."),
    ]
    assert second.items[0]["updated_at"] == "2026-03-03T21:06:00Z"
    chrome = ("Home", "Share", "newsletter", "Example News", "track(")
    for item in first.items + second.items:
        assert not any(word in value for word in chrome for value in (item["title"], item["body"]))


async def test_liveblog_selectors(site: Site, tmp_path: Path) -> None:
    source = Source(id="crash-live", kind="auto", url=site.url("/markets/live"), liveblog=SELECTORS)
    first, second = await poll_twice(
        site,
        tmp_path,
        source,
        fixture_bytes("liveblog_selectors_v1.html"),
        fixture_bytes("liveblog_selectors_v2.html"),
        "text/html",  # charset only in <meta> (iso-8859-1)
    )
    page = source.url
    assert [(i["id"], i["url"], i["published_at"], i["liveblog"]) for i in first.items] == [
        (
            "crash-live:blk-103",
            f"{page}#blk-103",
            "2026-03-03T14:45:00Z",
            {"page_url": page, "block_id": "blk-103"},
        ),
        (
            "crash-live:blk-102",
            f"{page}#blk-102",
            "2026-03-03T13:30:00Z",
            {"page_url": page, "block_id": "blk-102"},
        ),
        (
            "crash-live:blk-101",
            f"{page}#blk-101",
            "2026-03-03T13:00:00Z",
            {"page_url": page, "block_id": "blk-101"},
        ),
    ]
    assert summary(first.items) == [
        ("crash-live:blk-103", 1, "Trading halted", "The exchange halted trading for 15 minutes."),
        ("crash-live:blk-102", 1, "Index down 7%", "The main index fell 7% in early trade."),
        (
            "crash-live:blk-101",
            1,
            "Café owners worried",
            "Prices at the café are up. Naïve traders panic.",
        ),
    ]
    assert summary(second.items) == [
        (
            "crash-live:blk-104",
            1,
            "Central bank statement",
            "The central bank says it stands ready to act.",
        ),
        ("crash-live:blk-103", 2, "Trading halted", "The exchange halted trading for 30 minutes."),
    ]


async def test_conditional_get_and_restart(site: Site, tmp_path: Path) -> None:
    """ETag is sent back (304 -> nothing to do), and state survives a new Poller (restart)."""
    url = site.serve(
        "/etag.xml",
        fixture_bytes("rss_v1.xml"),
        etag='"v1"',
        headers={"Content-Type": "application/rss+xml"},
    )
    source = Source(id="etag", kind="rss", url=url)
    async with Fetcher(fast_policy()) as fetcher:
        first, _ = make_poller(tmp_path / "state", fetcher)
        assert len((await first.poll_source(source)).items) == 3
        restarted, published = make_poller(tmp_path / "state", fetcher)
        result = await restarted.poll_source(source)
    assert (result.outcome, published.messages) == ("not_modified", [])
    assert site.hits("/etag.xml")[1]["if-none-match"] == '"v1"'
    assert site.hits("/etag.xml")[0]["user-agent"] == "Wirewatch-test/1"
