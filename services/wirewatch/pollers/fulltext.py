"""Full articles behind summary-only feeds (``full_text:`` in sources.yaml).

For a feed item whose text is a teaser, the poller fetches the linked page through
its own :class:`~wirewatch.pollers.http.Fetcher` (per-host politeness, size caps,
redirect zone checks) and extracts the article with trafilatura; the item's
``body`` becomes the article, ``summary`` keeps the feed's text.

Why trafilatura: it scores F1 0.945 on the article-extraction benchmark against
Readability's 0.922, is maintained, works offline (no model or download at run
time), reads the page's dates through htmldate, and in precision mode keeps
navigation, cookie banners, "most viewed" boxes, footers and subscription prompts
out of the text (tests/pollers/test_fulltext.py).

When to fetch (``auto``): the feed's text is shorter than :data:`TEASER_BELOW`
characters. Once per feed-entry version: the poller's state records a fingerprint of
the feed entry (its title, text and updated date), so a page is fetched again when its
feed entry changes, and otherwise only by a re-check (:mod:`~wirewatch.pollers.rechecks`:
recent pages, conditionally, on a budget).

A page carrying schema.org ``LiveBlogPosting`` JSON-LD (a live blog linked from a feed)
becomes its posts instead of trafilatura's reading (:func:`liveblog_text`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

import trafilatura
from selectolax.lexbor import LexborHTMLParser

from wirewatch.core.logging import get_logger
from wirewatch.core.times import parse_rfc3339
from wirewatch.pollers.http import (
    NO_SETTINGS,
    Fetch,
    FetchOutcome,
    SourceFetch,
    Zone,
    decode_text,
    redirect_allowed,
    resolve_zone,
)
from wirewatch.pollers.items import (
    MAX_BODY,
    MAX_SUMMARY,
    _usable,
    clip,
    content_hash,
    describe,
    read_time,
)
from wirewatch.pollers.liveblog import find_liveblog_updates, post_text
from wirewatch.pollers.state import HASH_CHARS, PageState, SourceState
from wirewatch.search.analysis import normalize

log = get_logger("pollers.fulltext")

FullTextMode = Literal["auto", "always", "never"]

TEASER_BELOW = 500
"""``auto`` fetches the page when the feed's text is shorter than this (characters; README)."""
CONCURRENT_PAGES = 8
"""Pages of one poll fetched and extracted at once (the fetcher still paces each host)."""
PAGES_PER_POLL = 50
"""Pages one poll of one source fetches at most: a first poll of a 6,000-item archive feed
emits its backlog with the feed's text instead of spending hours on pages (one warning line)."""
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "original_date": True,
    "extensive_search": False,
}


@dataclass(frozen=True)
class Article:
    """What a page gave: the article text and its publication date as written (or None)."""

    text: str
    published: str | None


class NoArticle(Exception):
    """The page holds no article (a section front, an empty page): the feed's text stays."""


def wants_page(mode: FullTextMode, item: dict[str, Any]) -> bool:
    """Whether ``item`` should get its linked page's text under ``mode``."""
    if mode == "never" or not item.get("url") or item.get("liveblog"):
        return False
    return mode == "always" or len(item["body"]) < TEASER_BELOW


def feed_fingerprint(item: dict[str, Any]) -> str:
    """The feed entry as the state records it for a full-text item: title, text, updated date.

    A publisher editing an article usually bumps the entry's updated date; that (or
    a new feed text) is what makes the page worth fetching again.
    """
    if "updated_at" not in item:
        # the feed's own hash: the state of a source polled before full_text existed, or one
        # rebuilt from the raw log after a crash (group.py) for an item kept with the feed's
        # text, matches and emits nothing again
        return str(item["content_hash"])
    seed = f"{item['content_hash']}\x1f{item['updated_at']}"
    return hashlib.sha256(seed.encode()).hexdigest()


def mark(mode: FullTextMode, items: Sequence[dict[str, Any]]) -> set[str]:
    """Ids of the items to complete; their ``content_hash`` becomes the feed fingerprint.

    The state then tells a changed feed entry from an unchanged one before any page
    is fetched; :func:`complete` sets the real hash of what is emitted.
    """
    wanted: set[str] = set()
    for item in items:
        if wants_page(mode, item):
            item["content_hash"] = feed_fingerprint(item)
            wanted.add(item["id"])
    return wanted


def extract(content: bytes, content_type: str, url: str, title: str = "") -> Article:
    """The article in a fetched page; :class:`NoArticle` when there is none.

    Precision mode: a section front or a page of links yields (almost) nothing
    instead of its navigation. The headline, which trafilatura often keeps as the
    first line, is dropped when it repeats the item's title.
    """
    lowered = content_type.lower()
    if lowered and "html" not in lowered:
        raise NoArticle(f"not an HTML page ({content_type.split(';', 1)[0].strip()})")
    decoded = decode_text(content, content_type)
    document = trafilatura.bare_extraction(
        decoded.text,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        date_extraction_params=_DATE_PARAMS,
    )
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    headlines = {" ".join(t.split()) for t in (title, getattr(document, "title", None) or "") if t}
    if lines and " ".join(lines[0].split()) in headlines:
        lines = lines[1:]
    date = getattr(document, "date", None) if document is not None else None
    posts = liveblog_text(decoded.text)
    return Article(posts if posts is not None else "\n".join(lines), date or None)


def liveblog_text(html: str) -> str | None:
    """A live blog's posts (headline, then text), in the page's order; None for other pages.

    Read from the page's schema.org ``LiveBlogPosting`` JSON-LD, as a live-blog source's
    posts are (:mod:`~wirewatch.pollers.liveblog`): trafilatura reads a live page as one
    article, keeps its "LIVE" badge and "Key events" heading and drops posts (the oldest
    post of tests/fixtures/pollers/articles/liveblog_page.html), with or without
    ``favor_recall``.
    """
    if "LiveBlogPosting" not in html:
        return None
    lines: list[str] = []
    for post in find_liveblog_updates(LexborHTMLParser(html)).posts or []:
        headline, text = post_text(post)
        if text:
            lines += [headline, text] if headline else [text]
    return "\n".join(lines) if lines else None


async def complete(
    items: list[dict[str, Any]],
    wanted: set[str],
    *,
    fetcher: Fetch,
    source_id: str,
    feed_url: str,
    settings: SourceFetch = NO_SETTINGS,
    known: dict[str, PageState] | None = None,
    now: float = 0.0,
) -> tuple[list[dict[str, Any]], set[str], dict[str, PageState]]:
    """``items`` with their articles, the ids to retry at the next poll (host busy), and
    the pages fetched (validators and text hash, for :mod:`~wirewatch.pollers.rechecks`).

    Any other failure keeps the feed's text and logs one warning line. ``known`` pages
    keep the time they were first fetched.
    """
    todo = [item for item in items if item["id"] in wanted]
    if not todo:
        return items, set(), {}
    for item in todo[PAGES_PER_POLL:]:
        item["content_hash"] = content_hash(item["title"], item["body"])
    if len(todo) > PAGES_PER_POLL:
        log.warning(
            "full_text_skipped",
            source=source_id,
            reason=f"{len(todo) - PAGES_PER_POLL} new items over the {PAGES_PER_POLL} pages a poll "
            "fetches kept the feed's text",
        )
        todo = todo[:PAGES_PER_POLL]
    pages = PageFetch(fetcher, feed_url, settings)
    slots = asyncio.Semaphore(CONCURRENT_PAGES)
    postponed: set[str] = set()
    fetched_pages: dict[str, PageState] = {}
    known = known or {}

    async def one(item: dict[str, Any]) -> None:
        async with slots:
            try:
                fetched = await pages.get(item)
                article = await pages.article(item, fetched)
            except Later:
                postponed.add(item["id"])
                return
            except NoArticle as exc:
                log.warning(
                    "full_text_failed",
                    source=source_id,
                    url=item["url"],
                    reason=str(exc) + "; kept the feed's text",
                )
                item["content_hash"] = content_hash(item["title"], item["body"])
                return
            apply(item, article)
            before = known.get(item["id"])
            fetched_pages[item["id"]] = PageState(
                fetched.etag,
                fetched.last_modified,
                text_hash(article.text),
                before.first if before is not None else now,
                now,
            )

    await asyncio.gather(*(one(item) for item in todo))
    return [item for item in items if item["id"] not in postponed], postponed, fetched_pages


def text_hash(text: str) -> str:
    """What tells an edited article from a re-served one: the extracted text as the search
    index sees it (case, punctuation and spacing aside), never the page's HTML."""
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:HASH_CHARS]


class PageFetch:
    """Fetches the pages one feed links to: zone checks (one DNS lookup per host and poll),
    the source's settings (:func:`link_settings`), extraction off the event loop."""

    def __init__(self, fetcher: Fetch, feed_url: str, settings: SourceFetch = NO_SETTINGS) -> None:
        self.fetcher = fetcher
        self.feed_url = feed_url
        self.settings = settings
        self._zones: dict[str, asyncio.Task[Zone | None]] = {}

    def _zone(self, url: str) -> asyncio.Task[Zone | None]:
        host = urlsplit(url).hostname or ""
        if host not in self._zones:
            self._zones[host] = asyncio.ensure_future(_zone(host))
        return self._zones[host]

    async def get(
        self, item: dict[str, Any], etag: str | None = None, last_modified: str | None = None
    ) -> FetchOutcome:
        """The page (``ok`` or, given validators, ``not_modified``); :class:`Later` when its
        host makes us wait, :class:`NoArticle` for any other failure."""
        url = item["url"]
        feed_zone = await self._zone(self.feed_url)
        link_zone = await self._zone(url)
        if link_zone is None:
            raise NoArticle(f"cannot resolve the host of {url}")
        if feed_zone is not None and not redirect_allowed(feed_zone, link_zone):
            raise NoArticle(f"refused a link from a {feed_zone} feed to a {link_zone} address")
        fetched = await self.fetcher.fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            settings=link_settings(self.settings, self.feed_url, url),
        )
        if fetched.kind == "deferred":
            raise Later
        if not fetched.ok:
            raise NoArticle(f"{fetched.kind}: {fetched.reason}")
        return fetched

    async def article(self, item: dict[str, Any], fetched: FetchOutcome) -> Article:
        """The article in a fetched page, longer than the feed's text, or :class:`NoArticle`."""
        try:
            article = await asyncio.to_thread(
                extract,
                fetched.content,
                fetched.content_type,
                fetched.final_url or item["url"],
                item["title"],
            )
        except NoArticle:
            raise
        except Exception as exc:  # an extractor bug costs one item's full text, not the poll
            raise NoArticle(f"extraction failed: {describe(exc)}") from None
        if len(article.text) <= len(item["body"]):
            raise NoArticle("the page holds no article text longer than the feed's")
        return article


def postpone(planned: SourceState, ids: set[str], before: SourceState) -> SourceState:
    """``planned`` with the entries of ``ids`` as they were ``before``: seen anew next poll."""
    if not ids:
        return planned
    entries = dict(planned.entries)
    for item_id in ids:
        if item_id in before.entries:
            entries[item_id] = before.entries[item_id]
        else:
            entries.pop(item_id, None)
    return replace(planned, entries=entries)


class Later(Exception):
    """The host asked to wait longer than the fetcher waits: try at the next poll."""


async def _zone(host: str) -> Zone | None:
    if not host:
        return None
    try:
        return await resolve_zone(host)
    except OSError:
        return None


def link_settings(settings: SourceFetch, feed_url: str, link: str) -> SourceFetch:
    """The source's fetch settings for a page it links to.

    User agent, proxy, pacing and timeout always apply (they are how the publisher is
    reached); headers and cookies (secrets, logins) only go to the feed's own host
    (``www.`` aside), never to a third-party host a feed links to.
    """
    if not settings.headers and not settings.cookies:
        return settings
    if _host(feed_url) == _host(link):
        return settings
    return replace(settings, headers=(), cookies=())


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def apply(item: dict[str, Any], article: Article) -> None:
    """The item with the article as ``body``, the feed's text as ``summary``."""
    truncated = [name for name in item.get("truncated", []) if name not in ("body", "summary")]
    summary, summary_cut = clip(item["body"], MAX_SUMMARY)
    body, body_cut = clip(article.text, MAX_BODY)
    item["summary"], item["body"] = summary, body
    truncated += (["summary"] if summary_cut else []) + (["body"] if body_cut else [])
    if truncated:
        item["truncated"] = truncated
    else:
        item.pop("truncated", None)
    item["content_hash"] = content_hash(item["title"], body)
    _fill_published(item, article.published)


def _fill_published(item: dict[str, Any], page_date: str | None) -> None:
    """A feed entry without a usable date (``published_at`` fell back to the fetch time)."""
    if page_date is None or item["published_at"] != item["fetched_at"] or "updated_at" in item:
        return
    found, _problem = _usable(read_time(page_date), parse_rfc3339(item["fetched_at"]))
    if found is None:
        return
    item["published_at"] = found
    note = "published_at is the article page's date"
    item["date_note"] = f"{item['date_note']}; {note}" if item.get("date_note") else note
