"""What checking the data file costs: ``check_file`` thorough (``PRAGMA quick_check``) vs quick.

``wirewatch run`` runs the thorough check once at start; ``wirewatch search`` the quick one on
every call (README "Damaged data files"). Fills a store of ``--items`` items shaped like real
ones (a ~200-word body, entities) and times both checks (best and worst of 3)::

    python -m bench.store_check --items 100000 --dir /tmp/store-100k

Standalone (not in ``bench.run``): it needs minutes to fill a large store, once.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

from wirewatch.core.sqlite import DB_FILE, Check, check_file
from wirewatch.sinks.sqlite import SqliteStore

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sinks" / "processed_items.jsonl"


def fill(folder: Path, count: int) -> None:
    """``count`` distinct items in ``folder``'s store (kept if it already holds them)."""
    store = SqliteStore(folder)
    if store.count_sync() >= count:
        store.db.close()
        return
    base = json.loads(FIXTURE.read_text("utf-8").splitlines()[0])
    words = [f"w{n}" for n in range(50_000)]
    rng = random.Random(7)
    for start in range(0, count, 500):
        batch = []
        for n in range(start, min(start + 500, count)):
            doc = copy.deepcopy(base)
            doc.update(id=f"bench:{n}", story_id=f"bench:{n}", title=" ".join(rng.choices(words, k=10)),
                       body=" ".join(rng.choices(words, k=200)),
                       published_at=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z")
            batch.append(doc)
        store.index_items_sync(batch)
    store.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("bench/out/store-check"))
    args = parser.parse_args()
    fill(args.dir, args.items)
    path = args.dir / DB_FILE
    size = path.stat().st_size / 2**20
    modes: tuple[Check, ...] = ("thorough", "quick")
    for mode in modes:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            state = check_file(path, mode)
            times.append(time.perf_counter() - started)
        print(f"{args.items} items, {size:.0f} MiB, {mode}: {state}, {min(times):.3f}-{max(times):.3f} s")


if __name__ == "__main__":
    main()
