"""How long the console's paged search takes on the SQLite store (README "The web console").

``python -m bench.search_page_bench [--items 20000]``: indexes that many generated items
(a quarter say "officials") in a temporary store, then times ``search_page`` (which looks at
every match, for the exact total) against ``search`` (the first 20 only). Not registered in
``bench.run``: a one-off measure of what the total costs.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from wirewatch.sinks.sqlite import SqliteStore

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


async def measure(count: int) -> None:
    now = datetime.now(UTC)
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
            print(f"{query!r:48} {options!s:20} total {page.total:>6}  search_page {paged * 1000:6.0f} ms"
                  f"  first 20 only {first * 1000:5.0f} ms")
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    asyncio.run(measure(parser.parse_args().items))


if __name__ == "__main__":
    main()
