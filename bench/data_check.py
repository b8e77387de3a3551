"""How alike the data set's items are, measured the way dedupe sees them.

``python -m bench.data_check`` prints the exact Jaccard similarity of dedupe's
shingles (``dedupe.shingles`` of ``item_tokens``, what dedupe's MinHash
estimates) for pairs the generator means to be different (first
items of two stories, all beats and same beat), for other outlets' own
write-ups, mirrors and live-blog posts against their story's first item, and
the word counts of bodies. Why: the benchmark is only realistic if unrelated
stories share little text and a rewrite stays well below the near-duplicate
threshold (``NEAR_DUPLICATE_THRESHOLD``); this checks the data, not the processor.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Context
from wirewatch.processors.dedupe import NEAR_DUPLICATE_THRESHOLD, item_tokens
from wirewatch.processors.dedupe import shingles as dedupe_shingles

PAIRS = 2000


def shingles(item: dict[str, Any]) -> frozenset[tuple[str, ...]]:
    return frozenset(dedupe_shingles(item_tokens(item)))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def summary(values: Sequence[float]) -> dict[str, float]:
    """Quantiles and the share at or above the near-duplicate threshold."""
    xs = sorted(values)
    if not xs:
        return {}

    def q(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 4)

    return {"n": len(xs), "p10": q(0.1), "median": q(0.5), "p90": q(0.9), "p99": q(0.99),
            "max": round(xs[-1], 4), "share_gt_0.15": round(sum(x > 0.15 for x in xs) / len(xs), 4),
            "share_ge_threshold": round(sum(x >= NEAR_DUPLICATE_THRESHOLD for x in xs) / len(xs), 4)}


def check(items: list[dict[str, Any]], labels: list[dict[str, str]], seed: int = 1) -> dict[str, Any]:
    """Similarity distributions per kind of pair (see the module docstring)."""
    first = {label["id"]: item for item, label in zip(items, labels, strict=True) if label["kind"] == "original"}
    cache: dict[int, frozenset[tuple[str, ...]]] = {}

    def sh(item: dict[str, Any]) -> frozenset[tuple[str, ...]]:
        key = id(item)
        if key not in cache:
            cache[key] = shingles(item)
        return cache[key]

    rng = random.Random(seed)
    originals = list(first.values())
    different = [jaccard(*map(sh, rng.sample(originals, 2))) for _ in range(PAIRS)]
    same_beat: list[float] = []
    while len(same_beat) < PAIRS // 2:
        a, b = rng.sample(originals, 2)
        if a["tags"][-1] == b["tags"][-1]:
            same_beat.append(jaccard(sh(a), sh(b)))
    against_first: dict[str, list[float]] = {"rewrite": [], "mirror": [], "liveblog": []}
    for item, label in zip(items, labels, strict=True):
        if label["kind"] in against_first:
            against_first[label["kind"]].append(jaccard(sh(item), sh(first[label["story"]])))
    words = [len(i["body"].split()) for i, lb in zip(items, labels, strict=True) if lb["kind"] in ("original", "rewrite")]
    return {
        "different_stories": summary(different),
        "different_stories_same_beat": summary(same_beat),
        **{f"{kind}_vs_first": summary(v) for kind, v in against_first.items()},
        "body_words": {"min": min(words), "median": sorted(words)[len(words) // 2], "max": max(words)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20000, help="size of the data set (20000)")
    args = parser.parse_args(argv)
    ctx = Context(items_count=args.items)
    report = check(ctx.items(), ctx.labels())
    print(json.dumps({"items": str(Path(ctx.items_path).name), **report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
