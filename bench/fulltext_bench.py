"""``fulltext.items_per_s``: polling summary-only feeds with ``full_text: always``.

A local aiohttp server (a thread of this process, on 127.0.0.1) serves 4 RSS feeds of
50 teaser items each and the 200 article pages they link to, written from the four
publisher-shaped pages of ``tests/fixtures/pollers/articles`` (chrome, paywall, AMP,
windows-1251), each made unique. ``Poller.poll_once`` polls the 4 feeds once: the
feeds are parsed, each linked page fetched through the poller's fetcher and its
article extracted. Floor: ``fulltext.extract`` (trafilatura) alone over the same 200
pages in a loop: the extraction no full-text poll can skip. Peak RSS of the process
in ``extra``. ``python -m bench.fulltext_bench`` prints the result.

``fulltext.recheck_ms_per_page``: the same poller polls the 4 feeds again with every page
due a re-check (:mod:`wirewatch.pollers.rechecks`, ``Recheck(every=0, per_poll=50)``) and
every page answering ``304 Not Modified`` to its stored ETag: milliseconds per re-checked
page (the feed fetched whole, 200 conditional GETs, nothing extracted or emitted), against
the first poll's milliseconds per page fetched and extracted (floor; ratio = cost share).
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from html import escape
from pathlib import Path
from typing import Any

from bench.common import Context, Result, missing

NAME = "fulltext.items_per_s"
RECHECK = "fulltext.recheck_ms_per_page"
FEEDS = 4
ITEMS_PER_FEED = 50  # = fulltext.PAGES_PER_POLL: every item gets its page
ARTICLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pollers" / "articles"
SHAPES = ("article_chrome.html", "paywall_teaser.html", "amp_article.html", "cp1251_article.html")


def _pages() -> dict[str, bytes]:
    """Path -> page bytes: each fixture with its first paragraph numbered (no two pages alike)."""
    pages: dict[str, bytes] = {}
    templates = [(ARTICLES / name).read_bytes() for name in SHAPES]
    for n in range(FEEDS * ITEMS_PER_FEED):
        page = templates[n % len(templates)]
        pages[f"/article/{n}"] = page.replace(b"<p>", f"<p>Dispatch {n}. ".encode("ascii"), 1)
    return pages


def _feed(feed: int) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>{{base}}/article/{n}</link>"
        f'<guid isPermaLink="false">s{n}</guid><description>{escape(f"Teaser of story {n}.")}</description></item>'
        for n in range(feed * ITEMS_PER_FEED, (feed + 1) * ITEMS_PER_FEED)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F{feed}</title>{items}</channel></rss>'.encode()


class _Server:
    """The feeds and pages, served from a thread with its own event loop."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.not_modified = 0
        self.port = 0
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            body = self.pages.get(request.path)
            if body is None:
                return web.Response(status=404)
            if request.path.startswith("/feed"):
                return web.Response(body=body, headers={"Content-Type": "application/rss+xml"})
            etag = f'"{request.path}"'  # the pages never change here: re-checks answer 304
            headers = {"Content-Type": "text/html", "ETag": etag}
            if request.headers.get("If-None-Match") == etag:
                self.not_modified += 1
                return web.Response(status=304, headers=headers)
            return web.Response(body=body, headers=headers)

        async def start() -> web.AppRunner:
            app = web.Application()
            app.router.add_get("/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            return runner

        asyncio.set_event_loop(self.loop)
        self.runner = self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())

    def __enter__(self) -> _Server:
        self.thread.start()
        self.ready.wait(10)
        base = f"http://127.0.0.1:{self.port}"
        for feed in range(FEEDS):
            self.pages[f"/feed/{feed}"] = _feed(feed).replace(b"{base}", base.encode())
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class _Counter:
    def __init__(self) -> None:
        self.items = 0
        self.full = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        self.items += 1
        self.full += "summary" in value

    async def publish_many(self, topic: str, messages: Any) -> None:
        for key, value in messages:
            await self.publish(topic, value, key)


def _poll(port: int) -> tuple[float, _Counter, float, _Counter]:
    """The first poll (every page fetched) and the second (every page re-checked): time, counts."""
    from wirewatch.pollers.config import Source
    from wirewatch.pollers.http import Fetcher, FetchPolicy
    from wirewatch.pollers.poller import Poller
    from wirewatch.pollers.rechecks import Recheck
    from wirewatch.pollers.state import MemoryStateStore

    sources = [
        Source(id=f"f{i}", kind="rss", url=f"http://127.0.0.1:{port}/feed/{i}", full_text="always")
        for i in range(FEEDS)
    ]
    # one local host: per-host pacing lifted, as in poller.feeds_per_s
    policy = FetchPolicy(user_agent="wirewatch-bench", per_host_concurrency=16, min_host_delay=0.0)
    counter, again = _Counter(), _Counter()
    due = Recheck(every=0, per_poll=ITEMS_PER_FEED)

    async def run() -> tuple[float, float]:
        memory = MemoryStateStore()
        async with Fetcher(policy) as fetcher:
            poller = Poller(state=memory, fetcher=fetcher, publisher=counter, raw_topic="r",
                            dead_letter_topic="d", recheck=due)
            started = time.perf_counter()
            await poller.poll_once(sources)
            first = time.perf_counter() - started
            poller.publisher = again
            started = time.perf_counter()
            await poller.poll_once(sources)
            return first, time.perf_counter() - started

    first_s, second_s = asyncio.run(run())
    return first_s, counter, second_s, again


def _extract_alone(pages: dict[str, bytes]) -> float:
    from wirewatch.pollers.fulltext import extract

    started = time.perf_counter()
    for path, body in pages.items():
        if path.startswith("/article/"):
            extract(body, "text/html", "http://127.0.0.1" + path)
    return time.perf_counter() - started


def run(ctx: Context) -> list[Result]:
    try:
        import trafilatura  # noqa: F401
    except ImportError as exc:
        return [missing(NAME, "items/s", f"trafilatura not installed: {exc}"),
                missing(RECHECK, "ms", f"trafilatura not installed: {exc}")]
    from wirewatch.core.logging import configure_logging

    configure_logging("error", "json")
    pages = _pages()
    count = FEEDS * ITEMS_PER_FEED
    _extract_alone(dict(list(pages.items())[:8]))  # warm-up: imports, lxml, htmldate caches
    floor_s = _extract_alone(pages)
    with _Server(dict(pages)) as server:
        poll_s, counter, recheck_s, again = _poll(server.port)
        not_modified = server.not_modified
    if counter.full != count:
        return [missing(NAME, "items/s", f"only {counter.full} of {count} items got their article"),
                missing(RECHECK, "ms", "the first poll failed")]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    notes = (
        f"{FEEDS} feeds x {ITEMS_PER_FEED} teaser items, each page fetched (127.0.0.1, pacing lifted) "
        f"and extracted: poll {poll_s:.2f}s for {counter.items} items ({counter.full} with the article); "
        f"trafilatura alone on the same {count} pages {floor_s:.2f}s; the local server runs in a thread "
        f"of the same process; peak RSS of the process {peak_mb:.0f} MB"
    )
    rechecks: Result
    if not_modified != count or again.items:
        rechecks = missing(RECHECK, "ms", f"{not_modified} of {count} re-checks answered 304, "
                           f"{again.items} items emitted")
    else:
        rechecks = Result(
            RECHECK, recheck_s * 1000 / count, "ms", floor=poll_s * 1000 / count,
            notes=f"second poll of the same {FEEDS} feeds with all {count} pages due a re-check, each "
            f"answering 304 to its ETag: {recheck_s:.2f}s (feeds fetched whole, nothing extracted or "
            f"emitted) against {poll_s:.2f}s for the first poll's fetch and extraction",
            extra={"recheck_poll_s": round(recheck_s, 3)},
        )
    return [
        Result(NAME, count / poll_s, "items/s", floor=count / floor_s, notes=notes,
               extra={"peak_rss_mb": round(peak_mb, 1), "poll_s": round(poll_s, 3), "extract_s": round(floor_s, 3)}),
        rechecks,
    ]


if __name__ == "__main__":
    for result in run(Context()):
        print(result)
