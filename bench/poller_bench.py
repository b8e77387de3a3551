"""``poller.feeds_per_s``: 2,000 local feeds polled once through the pollers library.

A feed server (its own process, on 127.0.0.1) serves 2,000 RSS documents of
15 items each. The poller's state already holds an ETag for every feed; 80%
of the feeds still have it and answer ``304 Not Modified``, the other 20%
changed and answer 200 with their body, which is parsed, diffed against state
and published (to an in-memory counting publisher: Kafka is measured by the
e2e benchmark). Floor: ``feedparser.parse`` over the bodies that changed, in a
loop, in the same process: the parsing no poller can skip, expressed per feed
of the whole set. The poller child reports its peak RSS.

``python -m bench.poller_bench serve DIR`` runs the server,
``python -m bench.poller_bench poll DIR`` one measured poll (JSON on stdout).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from bench.common import Context, Result, last_line, missing, pin_one_core

NAME = "poller.feeds_per_s"
FEEDS = 2000
ITEMS_PER_FEED = 15
CHANGED_EVERY = 5  # feed i changed when i % 5 == 0: 20%
TIMEOUT = 240


def _etag(i: int, current: bool) -> str:
    version = 2 if (current and i % CHANGED_EVERY == 0) else 1
    return f'"v{version}-{i}"'


def render_feed(i: int, items: list[dict[str, Any]]) -> str:
    from datetime import datetime

    entries = []
    for item in items:
        when = datetime.fromisoformat(item["published_at"].replace("Z", "+00:00"))
        entries.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['url'])}</link>"
            f"<guid isPermaLink=\"false\">{escape(item['id'])}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{escape(item['body'][:600])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Bench feed {i}</title><link>http://127.0.0.1/feed/{i}</link>"
        f"<description>bench</description>{''.join(entries)}</channel></rss>\n"
    )


def write_feeds(ctx: Context, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pool = ctx.items(min(ctx.items_count, 3000))
    for i in range(FEEDS):
        start = (i * 7) % (len(pool) - ITEMS_PER_FEED)
        (folder / f"{i}.xml").write_text(render_feed(i, pool[start : start + ITEMS_PER_FEED]), "utf-8")


# ------------------------------------------------------------------ server

def serve(folder: Path) -> None:
    """Conditional GET server for the feeds; prints its port, serves until killed."""
    from aiohttp import web

    bodies = {int(p.stem): p.read_bytes() for p in folder.glob("*.xml")}

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        etag = _etag(i, current=True)
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=bodies[i], headers={"ETag": etag},
                            content_type="application/rss+xml", charset="utf-8")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# -------------------------------------------------------------------- poll

def _seeded_state() -> Any:
    """A state store seeded with each feed's old ETag (as after an earlier poll)."""
    from wirewatch.pollers.state import MemoryStateStore, SourceState

    store = MemoryStateStore()
    store.states.update((f"feed-{i}", SourceState(f"feed-{i}", etag=_etag(i, current=False), saved_at=1.0))
                        for i in range(FEEDS))
    return store


class _Counter:
    """Publisher that only counts (the bus is not what this metric measures)."""

    def __init__(self) -> None:
        self.items = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        self.items += 1

    async def publish_many(self, topic: str, messages: Any) -> None:
        self.items += len(list(messages))


def _peak_rss_kb() -> int:
    """VmHWM: this process's peak RSS (reset by exec, unlike ru_maxrss which a fork inherits)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def poll(folder: Path, port: int) -> dict[str, Any]:
    """One measured poll of every feed, then the feedparser floor; a JSON-able report."""
    import feedparser

    from wirewatch.core.logging import configure_logging
    from wirewatch.pollers.config import Source
    from wirewatch.pollers.http import Fetcher, FetchPolicy
    from wirewatch.pollers.poller import Poller

    configure_logging("error", "json")
    # the feed path alone (links point at hosts that do not exist): full text is bench/fulltext_bench.py
    sources = [Source(id=f"feed-{i}", kind="rss", url=f"http://127.0.0.1:{port}/feed/{i}", full_text="never")
               for i in range(FEEDS)]
    policy = FetchPolicy(user_agent="wirewatch-bench", per_host_concurrency=64, min_host_delay=0.0)
    rss_before = _peak_rss_kb()

    async def run() -> tuple[float, list[Any], int]:
        publisher = _Counter()
        async with Fetcher(policy) as fetcher:
            poller = Poller(state=_seeded_state(), fetcher=fetcher, publisher=publisher,
                            raw_topic="bench.raw", dead_letter_topic="bench.dead-letter", concurrency=64)
            start = time.perf_counter()
            results = await poller.poll_once(sources)
            return time.perf_counter() - start, results, publisher.items

    seconds, results, items = asyncio.run(run())
    rss_after = _peak_rss_kb()
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    changed = [(folder / f"{i}.xml").read_bytes() for i in range(0, FEEDS, CHANGED_EVERY)]
    everything = [(folder / f"{i}.xml").read_bytes() for i in range(FEEDS)]
    start = time.perf_counter()
    for body in changed:
        feedparser.parse(body)
    floor_changed = time.perf_counter() - start
    start = time.perf_counter()
    for body in everything[:400]:
        feedparser.parse(body)
    floor_all = (time.perf_counter() - start) * FEEDS / 400
    return {"seconds": seconds, "outcomes": outcomes, "items": items,
            "floor_changed_seconds": floor_changed, "floor_all_seconds": floor_all,
            "maxrss_kb_before": rss_before, "maxrss_kb": rss_after}


def run(ctx: Context) -> list[Result]:
    try:
        import wirewatch.pollers.poller  # noqa: F401
    except ImportError as exc:
        return [missing(NAME, "feeds/s", f"wirewatch.pollers.poller not available: {exc}")]
    folder = ctx.out / "feeds"
    if not (folder / f"{FEEDS - 1}.xml").exists():
        write_feeds(ctx, folder)
    server = subprocess.Popen(
        [*(["taskset", "-c", "1"] if pin_one_core() else []), sys.executable, "-m", "bench.poller_bench",
         "serve", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline() or 0)
        if not port:
            return [missing(NAME, "feeds/s", f"feed server did not start: {last_line(server.stderr.read() if server.stderr else b'')}")]
        proc = subprocess.run([*pin_one_core(), sys.executable, "-m", "bench.poller_bench", "poll", str(folder), str(port)],
                              capture_output=True, timeout=TIMEOUT, check=False)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if proc.returncode != 0:
        return [missing(NAME, "feeds/s", f"poll failed: {last_line(proc.stderr)}")]
    report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    rate = FEEDS / report["seconds"]
    floor = FEEDS / report["floor_changed_seconds"]
    peak_mb = report["maxrss_kb"] / 1024
    notes = (
        f"{FEEDS} feeds x {ITEMS_PER_FEED} items on 127.0.0.1, state primed with ETags, outcomes {report['outcomes']}, "
        f"{report['items']} items published; poller {report['seconds']:.2f}s on one core "
        f"(per-host limits lifted: one local host); floor: feedparser over the {FEEDS // CHANGED_EVERY} "
        f"changed bodies {report['floor_changed_seconds']:.2f}s (parsing all {FEEDS} bodies would take "
        f"{report['floor_all_seconds']:.1f}s = {FEEDS / report['floor_all_seconds']:.0f} feeds/s); "
        f"peak RSS {peak_mb:.0f} MB ({(report['maxrss_kb'] - report['maxrss_kb_before']) / 1024:.0f} MB during the poll)"
    )
    return [Result(NAME, rate, "feeds/s", floor=floor, notes=notes,
                   extra={"peak_rss_mb": round(peak_mb, 1),
                          "feedparser_all_bodies_feeds_per_s": round(FEEDS / report["floor_all_seconds"], 1)})]


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(Path(sys.argv[2]))
    elif sys.argv[1] == "poll":
        print(json.dumps(poll(Path(sys.argv[2]), int(sys.argv[3]))))
