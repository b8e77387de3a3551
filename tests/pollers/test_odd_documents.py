"""Odd documents (issue #16 item 10): each costs only itself, and says so in one warning line.

* a JSON-LD block nested too deeply no longer fails the whole live-blog page;
* ``liveBlogUpdate`` that is a string (or holds non-objects) is reported, not silently empty;
* a feed repeating a GUID keeps the most recently updated version, with a warning;
* titles, summaries, bodies and author lists are capped, cut at a boundary and flagged.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.deadletter import utc_now
from wirewatch.core.schemas import validate
from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher, FetchOutcome
from wirewatch.pollers.items import MAX_BODY, MAX_TITLE, clip, content_hash
from wirewatch.pollers.poller import parse_document

from .helpers import Site, fast_policy, make_poller

LIVE = Source(id="live", kind="liveblog", url="https://live.example/election")

POSTING = {
    "@context": "https://schema.org",
    "@type": "LiveBlogPosting",
    "headline": "Election night",
    "liveBlogUpdate": [
        {"@type": "BlogPosting", "@id": "https://live.example/election#p2", "headline": "Count starts",
         "datePublished": "2026-03-03T20:00:00Z", "articleBody": "Counting has begun."},
        {"@type": "BlogPosting", "@id": "https://live.example/election#p1", "headline": "Polls close",
         "datePublished": "2026-03-03T19:00:00Z", "articleBody": "Polls are closed."},
    ],
}  # fmt: skip


def page(*blocks: str) -> bytes:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return f"<!doctype html><html><head>{scripts}</head><body><p>Live</p></body></html>".encode()


def parsed(source: Source, content: bytes, ctype: str) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """What the poller gets from one fetched document: items, error, warning lines."""
    fetched = FetchOutcome(source.url, "ok", content=content, headers={"content-type": ctype})
    items, error, _, warnings = parse_document(source, fetched, utc_now())
    for item in items:
        validate("raw_item", item)
    return items, error, warnings


def test_a_json_ld_block_nested_too_deeply_is_skipped_alone() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    broken = '{"@type": "LiveBlogPosting", "liveBlogUpdate": [}'
    items, error, warnings = parsed(LIVE, page(deep, broken, json.dumps(POSTING)), "text/html")
    assert error is None
    assert [i["id"] for i in items] == ["live:p2", "live:p1"]
    assert warnings == [
        "skipped JSON-LD block #1 nested too deeply, "
        "#2 invalid JSON (Expecting value: line 1 column 49 (char 48))"
    ]


async def test_the_page_with_a_deep_block_is_polled_ok(site: Site, tmp_path: Path) -> None:
    source = Source(id="live", kind="liveblog", url=site.url("/live"))
    deep = '{"a":' * 50_000 + "1" + "}" * 50_000
    site.serve("/live", page(deep, json.dumps(POSTING)), headers={"Content-Type": "text/html"})
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        result = await poller.poll_source(source)
    assert (result.outcome, [i["id"] for i in result.items]) == ("ok", ["live:p2", "live:p1"])


@pytest.mark.parametrize(
    ("updates", "ids", "warning"),
    [
        ("Live coverage continues", [],
         "LiveBlogPosting.liveBlogUpdate is a string, not a list of posts: no posts read"),
        (42, [], "LiveBlogPosting.liveBlogUpdate is a number, not a list of posts: no posts read"),
        ([POSTING["liveBlogUpdate"][0], "text", 3, None], ["live:p2"],  # type: ignore[index]
         "3 of 4 liveBlogUpdate entries are not objects (null, number, string): skipped"),
        ([], [], None),
    ],
)  # fmt: skip
def test_live_blog_update_of_the_wrong_type_is_one_warning(
    updates: Any, ids: list[str], warning: str | None
) -> None:
    items, error, warnings = parsed(LIVE, page(json.dumps({**POSTING, "liveBlogUpdate": updates})), "text/html")
    assert error is None
    assert [i["id"] for i in items] == ids
    assert warnings == ([warning] if warning else [])


def test_deeply_nested_json_feed_is_one_clear_error() -> None:
    source = Source(id="jf", url="https://jf.example/feed.json")
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    items, error, warnings = parsed(source, body, "application/feed+json")
    assert (items, error, warnings) == ([], "invalid JSON: nested too deeply", [])


ATOM_REPEATS = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title><id>urn:desk</id>
<updated>2026-03-03T12:00:00Z</updated>
<entry><id>urn:a</id><title>Budget vote</title><updated>2026-03-03T09:00:00Z</updated>
  <summary>The council votes today.</summary></entry>
<entry><id>urn:b</id><title>Storm warning</title><updated>2026-03-03T09:30:00Z</updated>
  <summary>Winds up to 120 km/h.</summary></entry>
<entry><id>urn:a</id><title>Budget passes</title><updated>2026-03-03T11:00:00Z</updated>
  <summary>The council passed the budget, 31 to 20.</summary></entry>
<entry><id>urn:a</id><title>Budget vote delayed</title><updated>2026-03-03T10:00:00Z</updated>
  <summary>The vote moves to the afternoon.</summary></entry>
<entry><id>urn:b</id><title>Storm warning</title><updated>2026-03-03T09:30:00Z</updated>
  <summary>Winds up to 120 km/h.</summary></entry>
</feed>"""


async def test_repeated_ids_keep_the_latest_version_with_one_warning(site: Site, tmp_path: Path) -> None:
    source = Source(id="desk", kind="rss", url=site.url("/atom.xml"))
    items, error, warnings = parsed(source, ATOM_REPEATS, "application/atom+xml")
    assert error is None
    assert [(i["id"], i["title"], i["published_at"]) for i in items] == [
        ("desk:urn:a", "Budget passes", "2026-03-03T11:00:00Z"),
        ("desk:urn:b", "Storm warning", "2026-03-03T09:30:00Z"),
    ]
    assert warnings == [
        "3 entries repeat an id already in the document (first: 'desk:urn:a'); "
        "kept the most recently updated version of each"
    ]
    # through the poller: the kept version is what is emitted (before: the first one, silently)
    site.serve("/atom.xml", ATOM_REPEATS, headers={"Content-Type": "application/atom+xml"})
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        result = await poller.poll_source(source)
    assert [(i["id"], i["title"]) for i in result.items] == [
        ("desk:urn:a", "Budget passes"),
        ("desk:urn:b", "Storm warning"),
    ]


def test_clip_cuts_at_a_boundary_and_never_inside_a_character() -> None:
    assert clip("abc def ghi", 20) == ("abc def ghi", False)
    assert clip("abc def ghi", 9) == ("abc def…", True)
    assert clip("first paragraph\nsecond one", 18) == ("first paragraph…", True)
    # no space in the last fifth (CJK): cut at the limit, but not between a letter and its accent
    assert clip("xxxxxxxe\u0301yy", 9) == ("xxxxxxx…", True)
    assert clip("東京都" * 10, 10) == ("東京都東京都東京都…", True)
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of five code points
    assert clip("x" * 5 + family + "tail", 9) == ("xxxxx…", True)
    assert clip("👍🏽" * 10, 6) == ("👍🏽👍🏽…", True)  # a skin tone stays with its hand


async def test_long_titles_and_bodies_are_capped_and_flagged(site: Site, tmp_path: Path) -> None:
    title = " ".join(f"word{n}" for n in range(2_000))  # ~13,000 characters
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20
    body = "".join(f"<p>{paragraph}</p>" for _ in range(200))  # ~230,000 characters of text
    cjk = "東京都議会は本日予算案を可決した" * 10_000  # 160,000 characters, no spaces
    feed = f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Long</title>
<item><guid>long</guid><title>{title}</title><description><![CDATA[{body}]]></description></item>
<item><guid>cjk</guid><title>予算案</title><description>{cjk}</description></item>
<item><guid>short</guid><title>Short</title><description>Short body.</description></item>
</channel></rss>"""
    source = Source(id="long", kind="rss", url=site.url("/long.xml"))
    site.serve("/long.xml", feed.encode(), headers={"Content-Type": "application/rss+xml"})
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        result = await poller.poll_source(source)
    long, cjk_item, short = result.items
    for item in result.items:
        validate("raw_item", item)
        assert item["content_hash"] == content_hash(item["title"], item["body"])
    assert (long["truncated"], cjk_item["truncated"], "truncated" in short) == (["title", "body"], ["body"], False)
    assert MAX_TITLE * 4 // 5 < len(long["title"]) <= MAX_TITLE
    assert long["title"].endswith("…") and title.startswith(long["title"][:-1])
    assert title[len(long["title"]) - 1] == " "  # cut at a space
    assert len(long["body"]) <= MAX_BODY and long["body"].endswith("…")
    assert len(cjk_item["body"]) == MAX_BODY and cjk.startswith(cjk_item["body"][:-1])
    assert (short["title"], short["body"]) == ("Short", "Short body.")


def test_a_garbled_encoding_name_in_the_xml_declaration_costs_no_entry() -> None:
    """Found by test_fuzz_feeds.py: feedparser raised UnicodeDecodeError on a non-ASCII name."""
    source = Source(id="desk", kind="rss", url="https://desk.example/feed.xml")
    feed = (
        b'<?xml version="1.0" encoding="\x8atf-8"?><rss version="2.0"><channel><title>Desk</title>'
        b"<item><guid isPermaLink=\"false\">a</guid><title>Caf\xc3\xa9 opens</title><description>Hello.</description></item>"
        b"</channel></rss>"
    )
    items, error, warnings = parsed(source, feed, "application/rss+xml")
    assert error is None
    assert [(i["id"], i["title"]) for i in items] == [("desk:a", "Café opens")]
    assert warnings == ["ignored the XML declaration's encoding name '\\x8atf-8' (not ASCII)"]


def test_flagged_items_pass_through_wirewatch_process(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    """processed_item.json takes raw_item's fields: date_note and truncated survive processing."""
    source = Source(id="desk", kind="rss", url="https://desk.example/feed.xml")
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Desk</title>'
        '<item><guid isPermaLink="false">old</guid><title>' + "Budget " * 400 + "</title>"
        "<description>The council voted.</description><pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>"
        "</item></channel></rss>"
    ).encode()
    items, error, _ = parsed(source, feed, "application/rss+xml")
    assert error is None and items[0]["truncated"] == ["title"] and "date_note" in items[0]
    rules = Path(__file__).resolve().parent.parent / "fixtures" / "processors" / "rules.yaml"
    done = subprocess.run(
        [wirewatch_bin, "process", "--rules", str(rules), "--ner", "off"],
        input="".join(json.dumps({**i, "revision": 1}) + "\n" for i in items),
        capture_output=True, text=True, env=wirewatch_env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [processed] = [json.loads(line) for line in done.stdout.splitlines()]
    validate("processed_item", processed)
    assert (processed["date_note"], processed["truncated"]) == (items[0]["date_note"], ["title"])
