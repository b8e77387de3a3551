"""Full articles behind summary-only feeds: ``full_text: auto | always | never``.

Article pages are written in the shapes publishers serve (chrome around the story, a
paywall teaser, AMP, windows-1251, a section front), served by a local aiohttp server
next to the feed that links to them.
"""

from __future__ import annotations

import socket
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from wirewatch.core.errors import ConfigError
from wirewatch.pollers import fulltext
from wirewatch.pollers.config import Source, load_sources
from wirewatch.pollers.http import Fetcher
from wirewatch.pollers.items import content_hash

from .articles import ARTICLES, HARBOUR, TEASER, Pages, entry, poll, rss
from .helpers import fast_policy, make_poller


def warnings_of(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["log_level"] == "warning"]


async def test_article_body_is_the_story_without_page_chrome(pages: Pages, tmp_path: Path) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    title = "Harbour authority approves night dredging"
    [item] = await poll(
        pages, tmp_path, "always", entry("h1", link, title, pubDate="Mon, 30 Nov 2026 08:00:00 GMT")
    )
    assert item["body"] == HARBOUR
    assert item["summary"] == TEASER
    assert item["content_hash"] == content_hash(title, HARBOUR)
    assert (item["revision"], item["published_at"]) == (1, "2026-11-30T08:00:00Z")
    for chrome in (
        "cookies", "Accept all", "Sport", "Home", "Share on", "morning briefing", "newsletter",
        "Most viewed", "Celebrity chef", "Related stories", "Ferry operators warn",
        "All rights reserved", "Privacy policy", "By Maren Solberg", title,
    ):  # fmt: skip
        assert chrome not in item["body"], chrome


async def test_paywall_teaser_keeps_the_free_paragraphs_not_the_prompt(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/tech/chipmaker", "paywall_teaser.html")
    [item] = await poll(
        pages, tmp_path, "always", entry("c1", link, "Chipmaker delays its second plant by a year")
    )
    assert item["body"] == (
        "Veltronic Semiconductor said on Tuesday it would open its second fabrication plant in the "
        "autumn of 2028, a year later than planned, blaming a shortage of cleanroom engineers.\n"
        "The company's shares fell 4 per cent in early trading after the announcement, which came "
        "alongside quarterly results that beat analysts' forecasts."
    )
    for prompt in ("Subscribe", "subscriber", "$1 a week", "Sign in", "Cookie settings", "Markets"):
        assert prompt not in item["body"], prompt


async def test_amp_page(pages: Pages, tmp_path: Path) -> None:
    link = pages.article("/amp/culture/logbooks", "amp_article.html")
    [item] = await poll(
        pages, tmp_path, "always", entry("l1", link, "Lighthouse keeper's logbooks go online")
    )
    assert item["body"] == (
        "Forty years of handwritten logbooks kept by the keepers of the Skarv lighthouse have been "
        "scanned and published by the county archive.\n"
        "The volumes record every passing ship, storm and supply boat from 1931 to 1971, when the "
        "light was automated.\n"
        "Archivist Liv Aasen said volunteers had transcribed more than 12,000 entries so that the "
        "logbooks can be searched by ship name."
    )
    assert "Back to Northern Star" not in item["body"] and "UA-0000" not in item["body"]


async def test_windows_1251_page_declared_only_in_a_meta_tag(pages: Pages, tmp_path: Path) -> None:
    link = pages.article("/news/most", "cp1251_article.html", content_type="text/html")
    title = "В Томске открыли новый мост через Ушайку"
    [item] = await poll(
        pages, tmp_path, "always", entry("m1", link, title, description="Мост открыт.")
    )
    assert item["body"] == (
        "В субботу в Томске открыли движение по новому мосту через реку Ушайку. Строительство заняло "
        "два года и обошлось городу в 1,2 миллиарда рублей.\n"
        "Мост длиной 140 метров соединил улицу Пушкина с Заозерьем. По словам мэра, он разгрузит "
        "старый Каменный мост, по которому ежедневно проезжают около 40 тысяч автомобилей.\n"
        "Движение по мосту будет открыто для всех видов транспорта, включая автобусы и трамваи."
    )
    assert item["summary"] == "Мост открыт."
    assert "Главная" not in item["body"] and "Все права защищены" not in item["body"]


async def test_section_front_falls_back_to_the_feed_text_with_one_warning(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/world", "section_front.html")
    with capture_logs() as logs:
        [item] = await poll(
            pages, tmp_path, "always", entry("w1", link, "Flooding forces evacuations")
        )
    assert item["body"] == TEASER and "summary" not in item
    assert item["content_hash"] == content_hash("Flooding forces evacuations", TEASER)
    [warning] = warnings_of(logs)
    assert warning["event"] == "full_text_failed" and warning["url"] == link
    assert (
        warning["reason"]
        == "the page holds no article text longer than the feed's; kept the feed's text"
    )


async def test_missing_page_and_non_html_link_fall_back_with_one_warning_each(
    pages: Pages, tmp_path: Path
) -> None:
    pdf = pages.serve("/report.pdf", b"%PDF-1.7\n...", "application/pdf")
    with capture_logs() as logs:
        items = await poll(
            pages, tmp_path, "always",
            entry("p1", pages.base + "/gone", "Gone"), entry("p2", pdf, "Annual report"),
        )  # fmt: skip
    assert [i["body"] for i in items] == [TEASER, TEASER]
    assert sorted(w["reason"] for w in warnings_of(logs)) == [
        "http_status: HTTP 404; kept the feed's text",
        "not an HTML page (application/pdf); kept the feed's text",
    ]


async def test_never_fetches_no_page(pages: Pages, tmp_path: Path) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    [item] = await poll(
        pages, tmp_path, "never", entry("h1", link, "Harbour authority approves night dredging")
    )
    assert item["body"] == TEASER and "summary" not in item
    assert pages.page_hits() == 0


async def test_auto_fetches_only_items_whose_feed_text_is_short(
    pages: Pages, tmp_path: Path
) -> None:
    short_link = pages.article("/news/harbour", "article_chrome.html")
    long_link = pages.article("/culture/logbooks", "amp_article.html")
    long_text = "x" * (fulltext.TEASER_BELOW - 10) + " The end of a complete story."
    items = await poll(
        pages, tmp_path, "auto",
        entry("h1", short_link, "Harbour authority approves night dredging"),
        entry("l1", long_link, "Logbooks", description=long_text),
    )  # fmt: skip
    assert [i["body"] for i in items] == [HARBOUR, long_text]
    assert pages.hits == {"/feed.xml": 1, "/news/harbour": 1}


async def test_missing_published_at_comes_from_the_page(pages: Pages, tmp_path: Path) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    [item] = await poll(
        pages, tmp_path, "always", entry("h1", link, "Harbour authority approves night dredging")
    )
    assert item["published_at"] == "2026-11-30T07:45:00Z"
    assert item["date_note"] == "published_at is the article page's date"


async def test_unchanged_feed_fetches_no_page_and_a_changed_entry_brings_a_revision(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    title = "Harbour authority approves night dredging"
    first = entry(
        "h1", link, title, pubDate="Mon, 30 Nov 2026 08:00:00 GMT", updated="2026-11-30T08:00:00Z"
    )
    [v1] = await poll(pages, tmp_path, "always", first)
    assert await poll(pages, tmp_path, "always", first) == []
    assert pages.hits["/news/harbour"] == 1, "an unchanged feed fetched the page again"

    edited = (
        (ARTICLES / "article_chrome.html")
        .read_text("utf-8")
        .replace(
            "Work is expected to cost 48 million kroner",
            "Work is now expected to cost 52 million kroner",
        )
    )
    pages.serve("/news/harbour", edited)
    [v2] = await poll(pages, tmp_path, "always", {**first, "updated": "2026-11-30T11:30:00Z"})
    assert pages.hits["/news/harbour"] == 2
    assert (v2["id"], v2["revision"]) == (v1["id"], 2)
    assert v2["body"] == HARBOUR.replace(
        "Work is expected to cost 48", "Work is now expected to cost 52"
    )


def test_extraction_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura and htmldate work offline: nothing is downloaded at run time."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the extractor tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    content = (ARTICLES / "article_chrome.html").read_bytes()
    article = fulltext.extract(content, "text/html", "https://courier.example/news/harbour")
    assert article == fulltext.Article(HARBOUR, "2026-11-30T07:45:00+0000")


async def test_a_poll_fetches_at_most_its_page_budget(
    pages: Pages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fulltext, "PAGES_PER_POLL", 2)
    links = [pages.article(f"/news/{n}", "article_chrome.html") for n in range(3)]
    with capture_logs() as logs:
        items = await poll(
            pages,
            tmp_path,
            "always",
            *(entry(f"s{n}", link, f"Story {n}") for n, link in enumerate(links)),
        )
    assert [i["body"] for i in items] == [HARBOUR, HARBOUR, TEASER]
    assert pages.page_hits() == 2
    assert [(w["event"], w["reason"]) for w in warnings_of(logs)] == [
        ("full_text_skipped", "1 new items over the 2 pages a poll fetches kept the feed's text")
    ]


async def test_a_page_its_host_makes_wait_for_is_left_for_the_next_poll(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    pages.serve("/feed.xml", rss(entry("h1", link, "Harbour")), "application/rss+xml")
    source = Source(id="courier", kind="rss", url=pages.base + "/feed.xml", full_text="always")
    # the feed's request books the host for 5 s; the fetcher waits at most 1 s: "deferred"
    async with Fetcher(fast_policy(min_host_delay=5.0, max_gate_wait=1.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        first = await poller.poll_source(source)
    assert (first.outcome, first.items, pages.page_hits()) == ("ok", [], 0)
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        second = await poller.poll_source(source)
    assert [(i["revision"], i["body"]) for i in second.items] == [(1, HARBOUR)]


async def test_a_public_feed_cannot_send_the_poller_to_a_loopback_address(
    pages: Pages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fulltext.resolve_zone

    async def zone(host: str) -> Any:  # "localhost" plays a public host serving the feed
        return "global" if host == "localhost" else await real(host)

    monkeypatch.setattr(fulltext, "resolve_zone", zone)
    link = pages.article("/admin", "article_chrome.html")
    pages.serve("/feed.xml", rss(entry("h1", link, "Harbour")), "application/rss+xml")
    source = Source(
        id="courier", kind="rss", url=pages.base.replace("127.0.0.1", "localhost") + "/feed.xml"
    )
    with capture_logs() as logs:
        async with Fetcher(fast_policy()) as fetcher:
            poller, _ = make_poller(tmp_path / "state", fetcher)
            [item] = (await poller.poll_source(source)).items
    assert item["body"] == TEASER and pages.page_hits() == 0
    assert [w["reason"] for w in warnings_of(logs)] == [
        "refused a link from a global feed to a loopback address; kept the feed's text"
    ]


def test_full_text_defaults_to_auto_and_a_wrong_value_is_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("sources:\n  - id: courier\n    url: https://courier.example/rss\n")
    assert load_sources(good).sources[0].full_text == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sources:\n  - id: courier\n    url: https://courier.example/rss\n    full_text: sometimes\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(bad)
    assert str(caught.value) == (
        f"{bad}: sources[0] (courier).full_text: must be one of auto, always, never (got 'sometimes')"
    )


async def test_turning_full_text_on_neither_fetches_nor_re_emits_items_already_sent(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/news/harbour", "article_chrome.html")
    story = entry("h1", link, "Harbour authority approves night dredging")
    [before] = await poll(pages, tmp_path, "never", story)
    assert await poll(pages, tmp_path, "auto", story) == []
    assert pages.page_hits() == 0
    [new] = await poll(pages, tmp_path, "auto", story, entry("h2", link, "Second story"))
    assert (new["id"], new["body"], pages.page_hits()) == ("courier:h2", HARBOUR, 1)
    assert before["id"] == "courier:h1"


async def test_page_requests_carry_the_source_settings_and_its_cookies_only_to_its_own_host(
    pages: Pages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURIER_SESSION", "s3cret")
    own = pages.article("/news/harbour", "article_chrome.html").replace("127.0.0.1", "localhost")
    other = pages.article("/syndicated/harbour", "article_chrome.html")
    feed = rss(entry("h1", own, "Harbour"), entry("h2", other, "Harbour again"))
    pages.serve("/feed.xml", feed, "application/rss+xml")
    source = Source.model_validate(
        {
            "id": "courier",
            "kind": "rss",
            "url": pages.base.replace("127.0.0.1", "localhost") + "/feed.xml",
            "full_text": "always",
            "user_agent": "CourierBot/2",
            "headers": {"X-Desk": "night"},
            "cookies": {"session": {"env": "COURIER_SESSION"}},
        }
    )
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        items = (await poller.poll_source(source)).items
    assert [i["body"] for i in items] == [HARBOUR, HARBOUR]
    mine, theirs = (
        pages.headers["localhost/news/harbour"],
        pages.headers["127.0.0.1/syndicated/harbour"],
    )
    assert (mine["User-Agent"], mine["X-Desk"], mine["Cookie"]) == (
        "CourierBot/2",
        "night",
        "session=s3cret",
    )
    assert theirs["User-Agent"] == "CourierBot/2"
    assert "Cookie" not in theirs and "X-Desk" not in theirs


STORM_POSTS = [
    "Power restored to 12,000 homes",
    "Nordvik Energi says crews have reconnected 12,000 homes since dawn. About 28,000 remain "
    "without power, most of them on the islands.",
    "Coastguard rescues two from a drifting yacht",
    "A coastguard helicopter lifted two sailors from a yacht that lost its mast off Skarv point. "
    "Both are in hospital with mild hypothermia.",
    "Readers have been sending us pictures of the waves breaking over the harbour wall at Nordkai. "
    "Please stay away from the seafront.",
    "Schools closed in three districts",
    "The county has closed all schools in Vestby, Holmen and Sandnes for the day. Pupils will be "
    "taught online from 10am.",
    "All morning ferries cancelled",
    "The ferry operators' association has cancelled every crossing before noon. Pilot Ingrid "
    "Haugen said waves of six metres made the harbour mouth impassable.",
    "Welcome to our live coverage",
    "Storm Ingrid reached the coast overnight with gusts of up to 140km/h. We will bring you the "
    "latest on travel, power cuts and closures throughout the day.",
]


async def test_a_live_blog_linked_from_a_feed_is_its_posts_in_page_order_without_chrome(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.article("/live/2026/dec/03/storm-ingrid-live", "liveblog_page.html")
    teaser = "Ferries cancelled and 40,000 homes without power: follow the latest."
    [item] = await poll(
        pages, tmp_path, "auto",
        entry("live1", link, "Storm Ingrid live: ferries cancelled", description=teaser),
    )  # fmt: skip
    assert item["body"] == "\n".join(STORM_POSTS)
    assert (item["summary"], item["revision"], "liveblog" in item) == (teaser, 1, False)
    assert item["published_at"] == "2026-12-03T06:05:00Z"  # the page's date: the feed has none
    for chrome in (
        "LIVE", "Key events", "Show all key events", "GMT", "Share", "Copy link", "Older posts",
        "Storm Ingrid live", "Red warning", "Maren Solberg", "morning briefing", "Most viewed",
        "cookies", "All rights reserved", "Sport",
    ):  # fmt: skip
        assert chrome not in item["body"], chrome


def test_a_live_blog_without_posts_in_json_ld_is_read_as_an_article() -> None:
    """No ``liveBlogUpdate`` posts: trafilatura reads the page as for any article."""
    page = (ARTICLES / "article_chrome.html").read_text("utf-8")
    marked = page.replace('"@type":"NewsArticle"', '"@type":"LiveBlogPosting"')
    assert fulltext.liveblog_text(marked) is None
    assert fulltext.extract(marked.encode(), "text/html", "https://courier.example/a").text == HARBOUR
