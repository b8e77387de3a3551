"""Events: precision and recall of ``event_id`` on the labelled set, over a range of thresholds.

    python -m bench.events            # the table in README "Events"
    python -m bench.events --at 0.2   # one threshold
    python -m bench.events --orders 50  # the chosen threshold over 50 shuffled arrival orders

The set (``tests/fixtures/events/labelled.py``) runs through the real processing core
(:class:`~wirewatch.processors.pipeline.Processor`, NER off, one batch per item in an
interleaved order: each event's outlets arrive between other events' items). Pairs: every
two items with the same label should share an ``event_id`` (recall) and every two sharing
one should have the same label (precision); ``same-language`` counts only pairs written in
one language. Clusters: B-cubed precision and recall (per item, the share of its predicted
cluster with its label, and of its label in its predicted cluster, averaged).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "events"))

from labelled import ITEMS  # type: ignore[import-not-found]

from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.events import MERGE_THRESHOLD, THRESHOLD
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet

BACKGROUND = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "processors" / "languages.jsonl"
START = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
THRESHOLDS = (0.08, 0.1, 0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.3, 0.35, 0.4)


@dataclass(frozen=True)
class Scores:
    pair_precision: float
    pair_recall: float
    same_language_recall: float
    bcubed_precision: float
    bcubed_recall: float
    clusters: int

    @property
    def bcubed_f1(self) -> float:
        p, r = self.bcubed_precision, self.bcubed_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def raw_items() -> list[dict[str, Any]]:
    """The labelled set as raw items, interleaved: the i-th outlet of every event, then the next."""
    by_event: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
    for row in ITEMS:
        by_event[row[0]].append(row)
    order = [row for rows in itertools.zip_longest(*by_event.values()) for row in rows if row is not None]
    out = []
    for n, (event, outlet, language, title, lead) in enumerate(order):
        out.append({
            "id": f"{outlet}-{event}-{n}", "source": {"id": outlet}, "url": f"https://{outlet}.example/{event}/{n}",
            "title": title, "body": lead, "language": language, "label": event,
            "published_at": (START + timedelta(minutes=7 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    return out


def background() -> list[dict[str, Any]]:
    """What the stream held before: 264 headlines of many beats in 40-odd languages
    (tests/fixtures/processors/languages.jsonl), so that beat words are not rare."""
    out = []
    for n, line in enumerate(BACKGROUND.read_text("utf-8").splitlines()):
        row = json.loads(line)
        out.append({"id": f"bg-{n}", "source": {"id": "bg"}, "url": f"https://bg.example/{n}", "title": row["text"],
                     "body": "", "language": row.get("lang") or "und", "published_at": "2026-03-03T05:00:00Z"})
    return out


def cluster(items: Sequence[dict[str, Any]], threshold: float, resolved: bool = True) -> list[str]:
    """The event ids the processing core gives the items, in order, at ``threshold``: resolved
    through later merges (as the store shows them), or as emitted (what ``per: event`` alerts saw)."""
    processor = Processor(RuleSet.from_rules([]), EntityTagger([]), Deduper({}))
    processor.events.threshold = threshold
    processor.events.merge_threshold = max(threshold, MERGE_THRESHOLD)
    for raw in background():
        processor.process(raw, START - timedelta(hours=1))
    out = []
    for n, item in enumerate(items):
        raw = {k: v for k, v in item.items() if k != "label"}
        result = processor.process(raw, START + timedelta(minutes=7 * n))
        out.append(result.item["event_id"])
    if not resolved:
        return out
    resolve = processor.events.resolve
    return [resolve(e) for e in out]  # as the store shows them: merged ids resolved


def score(items: Sequence[dict[str, Any]], events: Sequence[str]) -> Scores:
    labels = [item["label"] for item in items]
    tp = fp = fn = same_tp = same_all = 0
    for i, j in itertools.combinations(range(len(items)), 2):
        truth, said = labels[i] == labels[j], events[i] == events[j]
        tp += truth and said
        fp += said and not truth
        fn += truth and not said
        if truth and items[i]["language"] == items[j]["language"]:
            same_all += 1
            same_tp += said
    members: dict[str, set[int]] = defaultdict(set)
    truth_members: dict[str, set[int]] = defaultdict(set)
    for n, (label, event) in enumerate(zip(labels, events, strict=True)):
        members[event].add(n)
        truth_members[label].add(n)
    bp = sum(len(members[e] & truth_members[t]) / len(members[e]) for t, e in zip(labels, events, strict=True))
    br = sum(len(members[e] & truth_members[t]) / len(truth_members[t]) for t, e in zip(labels, events, strict=True))
    n = len(items)
    return Scores(tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0,
                  same_tp / same_all if same_all else 1.0, bp / n, br / n, len(members))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.split("\n")[0])
    parser.add_argument("--at", type=float, action="append", help="threshold(s) to measure (default: a sweep)")
    parser.add_argument("--orders", type=int, default=0,
                        help="instead: the chosen threshold over this many shuffled arrival orders")
    args = parser.parse_args(argv)
    items = raw_items()
    if args.orders:
        return shuffled(items, args.orders)
    labels = len({item["label"] for item in items})
    print(f"{len(items)} items, {labels} events, {len({i['language'] for i in items})} languages; "
          f"chosen threshold {THRESHOLD}")
    print("threshold  pair-P  pair-R  same-lang-R  B3-P   B3-R   B3-F1  clusters")
    for threshold in args.at or THRESHOLDS:
        s = score(items, cluster(items, threshold))
        print(f"{threshold:9.2f}  {s.pair_precision:6.3f}  {s.pair_recall:6.3f}  {s.same_language_recall:11.3f}  "
              f"{s.bcubed_precision:5.3f}  {s.bcubed_recall:5.3f}  {s.bcubed_f1:5.3f}  {s.clusters:8d}")
    return 0


def shuffled(items: Sequence[dict[str, Any]], orders: int) -> int:
    """Pair precision/recall over shuffled arrival orders, merges resolved and as emitted."""
    rows = []
    for seed in range(orders):
        order = list(items)
        random.Random(seed).shuffle(order)
        rows.append((score(order, cluster(order, THRESHOLD)), score(order, cluster(order, THRESHOLD, resolved=False))))
    print(f"{len(items)} items, {orders} shuffled orders, threshold {THRESHOLD}: min / mean / max")
    for name, pick in (("resolved", 0), ("as emitted", 1)):
        for metric in ("pair_precision", "pair_recall", "bcubed_recall"):
            values = [getattr(row[pick], metric) for row in rows]
            print(f"{name:10}  {metric:14}  {min(values):.3f} / {sum(values) / len(values):.3f} / {max(values):.3f}")
    merged = sum(row[0].clusters != row[1].clusters for row in rows)
    print(f"orders with a merge (emitted ids differ from resolved ones): {merged} of {orders}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
