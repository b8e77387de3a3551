"""Feeds of a web site (``wirewatch sources discover URL``).

Two ways, both through the poller's own :class:`~wirewatch.pollers.http.Fetcher` (size cap,
redirect zone checks, timeouts): the ``<link rel="alternate">`` feeds the page advertises
(:func:`wirewatch.pollers.feeds.advertised_feeds`, the same code that names them in the
poller's "HTML page, not a feed" error, on selectolax), then the common feed paths of the
site's root that answer with a document the feed parser reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from wirewatch.core.errors import WirewatchError
from wirewatch.pollers.config import Source
from wirewatch.pollers.feeds import advertised_feeds, looks_like_html, parse_feed
from wirewatch.pollers.http import NO_SETTINGS, Fetch, FetchOutcome, SourceFetch

#: Paths feed software serves by default (WordPress /feed, Hugo /index.xml, Jekyll /feed.xml,
#: Ghost /rss, many /rss.xml and /atom.xml, JSON Feed /feed.json).
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json")


class DiscoverError(WirewatchError):
    """The URL cannot be searched for feeds; one line for the user, exit 2."""


@dataclass
class Discovered:
    advertised: list[str] = field(default_factory=list)
    probed: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return self.advertised + [url for url in self.probed if url not in self.advertised]


def _is_feed(fetched: FetchOutcome) -> bool:
    """A fetched document the poller would read as a feed (HTML soft-404s are not)."""
    if not fetched.ok or not fetched.content:
        return False
    url = fetched.final_url or fetched.url
    parsed = parse_feed(
        fetched.content,
        source=Source(id="discover", url=url),
        page_url=url,
        content_type=fetched.content_type,
        fetched_at="1970-01-01T00:00:00Z",
    )
    return parsed.error is None


async def discover(fetcher: Fetch, url: str, settings: SourceFetch = NO_SETTINGS) -> Discovered:
    """Advertised feeds of the page at ``url``, then common paths that answer with a feed.

    ``settings`` (a source's user agent, proxy, headers...) go with every request.
    """
    if not url.startswith(("http://", "https://")):
        raise DiscoverError(f"{url!r} is not an http:// or https:// URL")
    page = await fetcher.fetch(url, settings=settings)
    if not page.ok:
        raise DiscoverError(f"cannot fetch {url}: {page.reason or page.kind}")
    final = page.final_url or url
    if not looks_like_html(page.content, page.content_type):
        if _is_feed(page):
            raise DiscoverError(f"{final} is a feed itself, not a web page: use it as a source's url")
        media = page.content_type.split(";", 1)[0].strip() or "no Content-Type"
        raise DiscoverError(f"{final} is not an HTML page ({media})")
    found = Discovered(advertised=advertised_feeds(page.content, page.content_type, final))
    parts = urlsplit(final)
    root = f"{parts.scheme}://{parts.netloc}/"
    candidates = [urljoin(root, path) for path in COMMON_PATHS]
    candidates = [c for c in candidates if c not in found.advertised]
    fetched = await asyncio.gather(*(fetcher.fetch(c, settings=settings) for c in candidates))
    for candidate, outcome in zip(candidates, fetched, strict=True):
        feed_url = outcome.final_url or candidate  # /feed -> /feed/ (WordPress): the URL that answered
        if _is_feed(outcome) and feed_url not in found.probed:
            found.probed.append(feed_url)
    return found
