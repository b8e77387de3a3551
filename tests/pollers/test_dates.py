"""Dates a source gets wrong: kept in a plausible window, flagged, four-digit years, nothing lost.

Issue #16 item 4: ``9999-12-31`` was accepted (the item stayed first in "newest" for
ever); year 1 was written ``1-01-01T...Z``, so the item was dead-lettered and lost.
The window is 1990-01-01 to one day after the fetch; outside it, or unreadable, the
published date falls back to the updated date, else the fetch time, and ``date_note``
says which date was replaced and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.schemas import validate
from wirewatch.core.times import parse_rfc3339, rfc3339
from wirewatch.pollers.config import LiveblogSelectors, Source
from wirewatch.pollers.http import Fetcher

from .helpers import Site, fast_policy, make_poller

# Real malformed or odd dates, from feedparser's date-parser test suite (tests/test_date_parsers.py)
# and the shapes feeds are known to send.
FEEDPARSER_ODD_DATES = [
    "Sun, 16 Dec 2012 1:2:3:4 GMT",  # invalid time
    "Sun, 16 zzz 2012 11:47:32 GMT",  # invalid month
    "Sun, Dec x 2012 11:47:32 GMT",  # invalid day
    "Sun, 16 Dec zz 11:47:32 GMT",  # invalid year
    "Sun, 16 Dec 2012 11:47:32 +zz:00",  # invalid timezone hour
    "Sun, 99 Jun 2009 12:00:00 GMT",  # out-of-range day
    "Sun, 31 Dec 9999 23:59:59 -9999",  # year 10000 once shifted
    "9999-12-31T23:59:59-99:99",  # out of range
    "2003-12-31T25:14:55Z",  # 25 hours
    "2013-01-28T11:30:00-06:00Textra",  # too many Ts
    "22013",  # year too long
    "Thu, 01 Jan 0100 00:00:01 +0100",  # ancient: year 99 after the shift
    "0001-01-01T00:00:00+05:00",  # no UTC equivalent inside year 1
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "2004-j\u00falius-13T9:15-05:00",  # Hungarian month name
    "2004-05-25 \uc624\ud6c4 11:23:17",  # Korean (nate)
    "\u039a\u03c5\u03c1, 11 \u0399\u03bf\u03cd\u03bb 2004 12:00:00 EST",  # Greek
    "Thu, 01 Jan 04 19:48:21 GMT",  # two-digit year
    "2003-012-31T10:14:55+00:00",  # Google's extra zero in the month
    "1970-01-01T00:00:00Z",  # epoch 0
    "",
    "   ",
    "\x00\x01",
    "9" * 400,
]


def rss_item(guid: str, date: str) -> str:
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>Story {guid}</title>'
        f"<description>Text of {guid}.</description><pubDate>{date}</pubDate></item>"
    )


def rss(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Desk</title>'
        "<link>https://desk.example/</link>" + "".join(items) + "</channel></rss>"
    ).encode()


async def poll(site: Site, tmp_path: Path, source: Source, body: bytes, ctype: str) -> list[dict[str, Any]]:
    """Poll once; every message must be a valid raw item (no dead letter)."""
    site.serve(source.url.split(str(site.port), 1)[1], body, headers={"Content-Type": ctype})
    async with Fetcher(fast_policy()) as fetcher:
        poller, publisher = make_poller(tmp_path / "state", fetcher)
        result = await poller.poll_source(source)
    assert result.outcome == "ok", result.reason
    assert [m for m in publisher.messages if m[0] != "t.raw"] == []
    for item in result.items:
        validate("raw_item", item)
    return result.items


def test_rfc3339_always_writes_a_four_digit_year() -> None:
    assert rfc3339(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert rfc3339(datetime(999, 3, 4, 5, 6, 7)) == "0999-03-04T05:06:07Z"
    assert rfc3339(datetime(2026, 12, 4, 8, 9, 10, 123456, UTC), millis=True) == "2026-12-04T08:09:10.123Z"
    with pytest.raises(OverflowError):  # no UTC equivalent inside years 1-9999
        rfc3339(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


async def test_rss_dates_outside_the_window_are_replaced_and_flagged(site: Site, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    soon = now + timedelta(hours=2)  # a clock or timezone slip: kept
    later = now + timedelta(days=2)  # not a publication date
    feed = rss([
        rss_item("fine", "Tue, 03 Mar 2026 10:15:00 +0100"),
        rss_item("forever", "Fri, 31 Dec 9999 00:00:00 GMT"),
        rss_item("year-one", "Mon, 01 Jan 0001 00:00:00 GMT"),
        rss_item("eighties", "Fri, 31 Dec 1989 23:59:59 GMT"),
        rss_item("nineties", "Mon, 01 Jan 1990 00:00:00 GMT"),
        rss_item("soon", soon.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        rss_item("later", later.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        rss_item("garbage", "the day after tomorrow"),
    ])  # fmt: skip
    source = Source(id="desk", kind="rss", url=site.url("/feed.xml"))
    items = await poll(site, tmp_path, source, feed, "application/rss+xml")

    got = {i["id"].removeprefix("desk:"): (i["published_at"], i.get("date_note")) for i in items}
    fetched = {i["id"].removeprefix("desk:"): i["fetched_at"] for i in items}
    later_text = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert got == {
        "fine": ("2026-03-03T09:15:00Z", None),
        "forever": (
            fetched["forever"],
            "published date 'Fri, 31 Dec 9999 00:00:00 GMT' is more than a day after the fetch: "
            "published_at is the fetch time",
        ),
        "year-one": (
            fetched["year-one"],
            "published date 'Mon, 01 Jan 0001 00:00:00 GMT' is before 1990-01-01: "
            "published_at is the fetch time",
        ),
        "eighties": (
            fetched["eighties"],
            "published date 'Fri, 31 Dec 1989 23:59:59 GMT' is before 1990-01-01: "
            "published_at is the fetch time",
        ),
        "nineties": ("1990-01-01T00:00:00Z", None),
        "soon": (rfc3339(soon), None),
        "later": (
            fetched["later"],
            f"published date {later_text!r} is more than a day after the fetch: "
            "published_at is the fetch time",
        ),
        "garbage": (
            fetched["garbage"],
            "published date 'the day after tomorrow' is not a readable date: "
            "published_at is the fetch time",
        ),
    }


async def test_atom_bad_published_falls_back_to_a_good_updated(site: Site, tmp_path: Path) -> None:
    feed = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Desk</title><id>urn:desk</id>
<updated>2026-03-03T10:00:00Z</updated>
<entry><id>urn:a</id><title>A</title><published>0001-01-01T00:00:00Z</published>
<updated>2026-03-03T09:00:00Z</updated><summary>a</summary></entry>
<entry><id>urn:b</id><title>B</title><published>2026-03-02T08:00:00Z</published>
<updated>9999-12-31T23:59:59Z</updated><summary>b</summary></entry>
</feed>"""
    source = Source(id="atom", kind="rss", url=site.url("/atom.xml"))
    items = await poll(site, tmp_path, source, feed, "application/atom+xml")
    assert [(i["id"], i["published_at"], i.get("updated_at"), i.get("date_note")) for i in items] == [
        ("atom:urn:a", "2026-03-03T09:00:00Z", None,
         "published date '0001-01-01T00:00:00Z' is before 1990-01-01: published_at is the updated date"),
        ("atom:urn:b", "2026-03-02T08:00:00Z", None,
         "updated date '9999-12-31T23:59:59Z' is more than a day after the fetch: left out"),
    ]  # fmt: skip


async def test_json_feed_dates_of_any_type_never_cost_an_item(site: Site, tmp_path: Path) -> None:
    dated: list[Any] = [
        "2026-03-03T10:00:00+01:00", "0001-01-01T00:00:00+05:00", "9999-12-31", 1709460000,
        ["2026-03-03"], {"date": "2026-03-03"}, None, True,
    ]  # fmt: skip
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Desk",
        "items": [
            {"id": f"j{n}", "title": f"Item {n}", "content_text": "text", "date_published": d}
            for n, d in enumerate(dated)
        ],
    }
    source = Source(id="json", kind="auto", url=site.url("/feed.json"))
    items = await poll(site, tmp_path, source, json.dumps(feed).encode(), "application/feed+json")
    notes = [(i["id"], i["published_at"] == i["fetched_at"], i.get("date_note")) for i in items]
    assert notes == [
        ("json:j0", False, None),
        ("json:j1", True,
         "published date '0001-01-01T00:00:00+05:00' is not a readable date: published_at is the fetch time"),
        ("json:j2", True,
         "published date '9999-12-31' is more than a day after the fetch: published_at is the fetch time"),
        ("json:j3", True, "published date '1709460000' is not a readable date: published_at is the fetch time"),
        ("json:j4", True,
         "published date \"['2026-03-03']\" is not a readable date: published_at is the fetch time"),
        ("json:j5", True,
         "published date \"{'date': '2026-03-03'}\" is not a readable date: published_at is the fetch time"),
        ("json:j6", True, None),
        ("json:j7", True, "published date 'True' is not a readable date: published_at is the fetch time"),
    ]  # fmt: skip
    assert items[0]["published_at"] == "2026-03-03T09:00:00Z"


async def test_live_blog_dates_json_ld_and_selectors(site: Site, tmp_path: Path) -> None:
    page = """<!doctype html><html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@type": "LiveBlogPosting", "liveBlogUpdate": [
 {"@type": "BlogPosting", "@id": "https://live.example/x#p1", "headline": "First",
  "datePublished": "0001-01-01T00:00:00Z", "articleBody": "Polls open."},
 {"@type": "BlogPosting", "@id": "https://live.example/x#p2", "headline": "Second",
  "datePublished": "9999-12-31T23:59:59Z", "articleBody": "Turnout high."}]}
</script></head><body></body></html>"""
    source = Source(id="live", kind="liveblog", url=site.url("/live"))
    items = await poll(site, tmp_path, source, page.encode(), "text/html")
    assert [(i["id"], i["published_at"] == i["fetched_at"], i["date_note"]) for i in items] == [
        ("live:p1", True, "published date '0001-01-01T00:00:00Z' is before 1990-01-01: published_at is the fetch time"),
        ("live:p2", True, "published date '9999-12-31T23:59:59Z' is more than a day after the fetch: "
         "published_at is the fetch time"),
    ]  # fmt: skip

    blocks = """<html><body>
<article class="post" id="b1"><time datetime="9999-12-31T00:00:00Z">31 Dec 9999</time><p>One</p></article>
<article class="post" id="b2"><time datetime="not a date">2026-03-03T10:00:00Z</time><p>Two</p></article>
</body></html>"""
    selectors = Source(
        id="sel", kind="liveblog", url=site.url("/sel"),
        liveblog=LiveblogSelectors(block="article.post", time="time"),
    )  # fmt: skip
    items = await poll(site, tmp_path / "sel", selectors, blocks.encode(), "text/html")
    assert [(i["id"], i["published_at"] == i["fetched_at"], i.get("date_note")) for i in items] == [
        ("sel:b1", True, "published date '9999-12-31T00:00:00Z' is more than a day after the fetch: "
         "published_at is the fetch time"),
        ("sel:b2", False, None),  # the readable text of the <time> is used when its attribute is not
    ]  # fmt: skip
    assert items[1]["published_at"] == "2026-03-03T10:00:00Z"


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
async def test_real_malformed_dates_never_crash_or_lose_an_item(
    site: Site, tmp_path: Path, kind: str
) -> None:
    dates = FEEDPARSER_ODD_DATES
    if kind == "rss":
        body = rss([rss_item(f"d{n}", d.replace("\x00", "").replace("\x01", "")) for n, d in enumerate(dates)])
    elif kind == "atom":
        entries = "".join(
            f"<entry><id>urn:d{n}</id><title>T{n}</title><summary>s</summary>"
            f"<published>{d.replace(chr(0), '').replace(chr(1), '')}</published></entry>"
            for n, d in enumerate(dates)
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>T</title><id>urn:t</id>{entries}</feed>"
        ).encode()
    else:
        body = json.dumps({
            "version": "https://jsonfeed.org/version/1",
            "items": [{"id": f"d{n}", "title": f"T{n}", "date_published": d} for n, d in enumerate(dates)],
        }).encode()  # fmt: skip
    source = Source(id=kind, kind="rss" if kind != "json" else "auto", url=site.url(f"/{kind}"))
    items = await poll(site, tmp_path, source, body, "application/json" if kind == "json" else "application/xml")
    by_date = {dates[int(i["id"].rsplit("d", 1)[1])]: i for i in items}
    assert len(by_date) == len(dates)
    earliest = datetime(1990, 1, 1, tzinfo=UTC)
    for item in items:
        published = parse_rfc3339(item["published_at"])
        assert earliest <= published <= parse_rfc3339(item["fetched_at"]) + timedelta(days=1)
    readable = {d: i["published_at"] for d, i in by_date.items() if "date_note" not in i}
    assert readable == {
        "2003-12-31T25:14:55Z": "2004-01-01T01:14:55Z",  # feedparser rolls 25 h over
        "2013-01-28T11:30:00-06:00Textra": "2013-01-28T17:30:00Z",
        "22013": "2022-01-13T00:00:00Z",  # feedparser reads it as 22-01-13
        "2004-j\u00falius-13T9:15-05:00": "2004-12-01T00:00:00Z",
        "2004-05-25 \uc624\ud6c4 11:23:17": "2004-05-25T00:00:00Z",
        "\u039a\u03c5\u03c1, 11 \u0399\u03bf\u03cd\u03bb 2004 12:00:00 EST": "2004-07-11T17:00:00Z",
        "Thu, 01 Jan 04 19:48:21 GMT": "2004-01-01T19:48:21Z",
        "2003-012-31T10:14:55+00:00": "2003-12-31T10:14:55Z",
        # no date given (XML cannot carry the control characters: they were left out there)
        "": by_date[""]["fetched_at"],
        "   ": by_date["   "]["fetched_at"],
        **({"\x00\x01": by_date["\x00\x01"]["fetched_at"]} if kind != "json" else {}),
    }
    for date, item in by_date.items():
        if date not in readable:
            assert item["published_at"] == item["fetched_at"], date
            assert item["date_note"].startswith("published date ") and item["date_note"].endswith(
                ": published_at is the fetch time"
            ), item["date_note"]
