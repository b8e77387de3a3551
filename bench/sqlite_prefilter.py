"""What the SQLite store's column prefilter saves: queries requiring a time window or a story.

``column_prefilter`` turns a query's required clauses on ``published_at``, ``story_id``, ``id``,
``dedupe.status`` and ``is_story`` into conditions on indexed columns, so the matcher reads only
those rows (README "Query syntax"). Fills a temporary store with ``--items`` stories three
minutes apart and times each query with and without the prefilter (mean of 3)::

    python -m bench.sqlite_prefilter --items 20000

Standalone (not in ``bench.run``); the rows read are counted by
tests/sinks/test_sqlite_prefilter.py.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import wirewatch.sinks.sqlite as sqlite_module
from wirewatch.core.times import rfc3339

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sinks" / "processed_items.jsonl"
QUERIES = ("published_at:[now-1h TO now]", 'story_id:"x:19000"', "putin AND published_at:[now-1d TO now]")


def _timed(store: sqlite_module.SqliteStore, query: str) -> tuple[float, int]:
    started = time.perf_counter()
    for _ in range(3):
        hits = store.search_sync(query, limit=100)
    return (time.perf_counter() - started) / 3, len(hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    base: dict[str, Any] = json.loads(FIXTURE.read_text("utf-8").splitlines()[0])
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        store = sqlite_module.SqliteStore(Path(folder))
        store.index_items_sync([
            {**base, "id": f"x:{k}", "story_id": f"x:{k}", "dedupe": {"status": "new", "of": None},
             "published_at": rfc3339(now - timedelta(minutes=3 * k))}
            for k in range(args.items)
        ])
        prefilter = sqlite_module.column_prefilter
        for query in QUERIES:
            with_s, hits = _timed(store, query)
            sqlite_module.column_prefilter = lambda node: ([], [])
            try:
                without_s, _ = _timed(store, query)
            finally:
                sqlite_module.column_prefilter = prefilter
            print(f"{query!r:45} {without_s * 1000:8.1f} -> {with_s * 1000:6.1f} ms  ({hits} hits)")
        store.db.close()


if __name__ == "__main__":
    main()
