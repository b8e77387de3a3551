"""A web page given as a feed says so, and names the feeds the page advertises.

Before: ``not a feed: <unknown>:2:0: syntax error`` (feedparser's XML error, with a position in
its own rewritten copy of the document). Pages served by a real local HTTP server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher

from .helpers import Site, fast_policy, fixture_bytes, make_poller

HTML = {"Content-Type": "text/html; charset=utf-8"}
LIVEBLOG_ERROR = "no LiveBlogPosting JSON-LD on the page and no liveblog selectors configured"


async def poll_one(site: Site, tmp_path: Path, source: Source) -> tuple[str, str]:
    async with Fetcher(fast_policy()) as fetcher:
        poller, published = make_poller(tmp_path, fetcher)
        (result,) = await poller.poll_once([source])
    assert published.messages == []
    return result.outcome, result.reason


@pytest.mark.parametrize("kind", ["rss", "atom"])
async def test_a_home_page_as_a_feed_names_the_first_two_feeds_it_advertises(
    site: Site, tmp_path: Path, kind: str
) -> None:
    url = site.serve("/", fixture_bytes("html_home_with_feeds.html"), headers=HTML)
    assert await poll_one(site, tmp_path, Source(id="home", kind=kind, url=url)) == (  # type: ignore[arg-type]
        "parse",
        "the URL answered with an HTML page, not a feed; it advertises https://www.example-news.org/world/rss.xml "
        "and https://feeds.example-news.org/atom/all (and 1 more)",
    )


async def test_relative_feed_links_resolve_against_the_page_url(site: Site, tmp_path: Path) -> None:
    """No ``<base>``: ``rss.xml`` on ``/politique/`` is ``/politique/rss.xml``; a javascript: href is no feed."""
    url = site.serve("/politique/", fixture_bytes("html_section_with_feed.html"), headers={"Content-Type": "text/html"})
    assert await poll_one(site, tmp_path, Source(id="politique", kind="rss", url=url)) == (
        "parse", f"the URL answered with an HTML page, not a feed; it advertises {site.url('/politique/rss.xml')}",
    )


async def test_a_page_advertising_no_feed_says_so(site: Site, tmp_path: Path) -> None:
    url = site.serve("/", fixture_bytes("html_no_feeds.html"), headers=HTML)
    assert await poll_one(site, tmp_path, Source(id="paywall", kind="rss", url=url)) == (
        "parse", "the URL answered with an HTML page, not a feed, and the page advertises no feed",
    )


async def test_an_html_page_served_with_a_feed_type_is_still_named_a_page(site: Site, tmp_path: Path) -> None:
    url = site.serve("/rss", fixture_bytes("html_no_feeds.html"), headers={"Content-Type": "application/rss+xml"})
    assert await poll_one(site, tmp_path, Source(id="mislabelled", kind="rss", url=url)) == (
        "parse", "the URL answered with an HTML page, not a feed, and the page advertises no feed",
    )


async def test_auto_kind_on_a_home_page_adds_the_advertised_feeds_to_the_live_blog_error(
    site: Site, tmp_path: Path
) -> None:
    url = site.serve("/", fixture_bytes("html_home_with_feeds.html"), headers=HTML)
    assert await poll_one(site, tmp_path, Source(id="home", kind="auto", url=url)) == (
        "parse",
        f"{LIVEBLOG_ERROR}; it advertises https://www.example-news.org/world/rss.xml "
        "and https://feeds.example-news.org/atom/all (and 1 more)",
    )


async def test_text_that_is_no_xml_says_so_without_feedparsers_position(site: Site, tmp_path: Path) -> None:
    url = site.serve("/notes.txt", b"just some text\n", headers={"Content-Type": "text/plain"})
    assert await poll_one(site, tmp_path, Source(id="notes", kind="rss", url=url)) == (
        "parse", "not a feed: not well-formed XML (syntax error)",
    )
