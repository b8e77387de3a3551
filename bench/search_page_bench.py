"""How long the console's paged search takes on the SQLite store (README "The web console").

``python -m bench.search_page_bench [--items 20000]``: indexes that many generated items
(a quarter say "officials") in a temporary store, then times ``search_page`` (which looks at
every match, for the exact total) against ``search`` (the first 20 only). In ``make bench`` as
``console.search_page_ms``: the slowest paged search of :data:`QUERIES` on 20,000 items, against
the page's 5 s search deadline (its floor: a ratio near 1 means the page starts refusing).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Context, Result
from wirewatch.embedded.web import SEARCH_DEADLINE_S
from wirewatch.sinks.sqlite import SqliteStore

NAME = "console.search_page_ms"

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("officials", {}),
    ("officials", {"sort": "relevance"}),
    ("officials", {"offset": 4000}),
    ("odesa", {}),
    ("*", {}),
    ("officials AND published_at:[now-1h TO now]", {}),
]


def item(n: int, now: datetime) -> dict[str, Any]:
    word = "officials" if n % 4 == 0 else "clerks"
    return {
        "id": f"x:{n}", "source": {"id": f"s{n % 7}", "name": f"Source {n % 7}"}, "url": f"https://x.example/{n}",
        "title": f"Harbour report number {n}",
        "body": f"Port {word} in Odesa said shipment {n} left on schedule after checks. " * 3,
        "published_at": (now - timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "language": "en",
        "dedupe": {"status": "new", "of": None}, "story_id": f"x:{n}",
        "entities": [{"name": "Ukraine", "type": "GPE"}], "alerts": [],
    }


async def measure(count: int) -> list[tuple[str, dict[str, Any], int, float, float]]:
    """(query, options, total, search_page ms, first-20 ms) of each of :data:`QUERIES`."""
    now = datetime.now(UTC)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(folder)
        for start in range(0, count, 2000):
            store.index_items_sync([item(n, now) for n in range(start + 1, min(count, start + 2000) + 1)])
        for query, options in QUERIES:
            began = time.perf_counter()
            page = await store.search_page(query, **options)
            paged = time.perf_counter() - began
            began = time.perf_counter()
            await store.search(query, limit=20)
            first = time.perf_counter() - began
            rows.append((query, options, page.total, paged * 1000, first * 1000))
        await store.close()
    return rows


def run(_ctx: Context, count: int = 20_000) -> list[Result]:
    rows = asyncio.run(measure(count))
    worst = max(rows, key=lambda r: r[3])
    notes = (f"{count:,} generated items in a SQLite store; slowest paged search (exact total) of "
             f"{len(rows)} queries: {worst[0]!r} {worst[1] or ''} ({worst[2]:,} matches). Floor: the page's "
             f"{SEARCH_DEADLINE_S:g} s search deadline.")
    return [Result(NAME, round(worst[3], 1), "ms", floor=SEARCH_DEADLINE_S * 1000, notes=notes,
                   extra={f"{q} {o or ''}".strip(): {"total": t, "search_page_ms": round(p, 1),
                                                    "first_20_ms": round(f, 1)} for q, o, t, p, f in rows})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    for query, options, total, paged, first in asyncio.run(measure(parser.parse_args().items)):
        print(f"{query!r:48} {options!s:20} total {total:>6}  search_page {paged:6.0f} ms"
              f"  first 20 only {first:5.0f} ms")


if __name__ == "__main__":
    main()
