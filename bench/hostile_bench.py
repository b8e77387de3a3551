"""Hostile queries: the worst wildcard patterns against the longest tokens (issue 16).

Timing lives here, not in the tests (tests/search/test_wildcard.py counts segment
searches instead). The peer is a plain one-word query on the same item; the figure
"before" is the backtracking regular expression the matcher used until issue 16,
run once on the issue's pattern.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial

from bench.common import Context, Result
from wirewatch.search.analysis import MAX_TOKEN_LENGTH
from wirewatch.search.matcher import MatchDocument, compile_query, prepare

NAME = "search.worst_wildcard_ms"
#: The attack run's pattern, one and many more stars, stars around ``?``, near-misses.
WORST = [
    "a*a*a*a*a*b",
    "a*a*a*a*a*a*b",
    "a" + "*a" * 60 + "*b",
    "a" + "*a?" * 40 + "*b",
    "a" + "*aaaa?b" * 10 + "*a",
    "a*" + "?" * 200 + "*b",
    "a?*?a*?a*a?a*b",
]
ISSUE_PATTERN = "a*a*a*a*a*b"
REPEAT, ROUNDS = 200, 5


def _item() -> MatchDocument:
    """The longest tokens analysis keeps, near-misses of them, and 300 short words starting with a."""
    long = "a" * MAX_TOKEN_LENGTH
    words = [long, long[:-1] + "c", "ab" * 127, *(f"a{i}" for i in range(300))]
    return prepare({"title": long, "body": " ".join(words)})


def _ms_per_call(call: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(REPEAT):
            call()
        best = min(best, (time.perf_counter() - start) / REPEAT)
    return best * 1000


def _compile_and_match(query: str, doc: MatchDocument) -> bool:
    return compile_query(query).matches(doc)


def run(ctx: Context) -> list[Result]:
    doc = _item()
    times = {p: _ms_per_call(partial(_compile_and_match, p, doc)) for p in WORST}
    worst_pattern = max(times, key=lambda p: times[p])
    peer = _ms_per_call(partial(_compile_and_match, "aaaa", doc))
    regex = re.compile(ISSUE_PATTERN.replace("*", ".*"))
    start = time.perf_counter()
    regex.fullmatch("a" * MAX_TOKEN_LENGTH)
    before = time.perf_counter() - start
    issue_ms = times[ISSUE_PATTERN]
    notes = (
        f"compile + match of each of {len(WORST)} worst patterns on an item with {MAX_TOKEN_LENGTH}-letter "
        f"tokens and 300 a-words, best of {ROUNDS}x{REPEAT}; worst {worst_pattern[:30]!r}. Peer: compile + match "
        f"of the one-word query 'aaaa'. Issue pattern {ISSUE_PATTERN!r}: {issue_ms:.3f} ms; the backtracking "
        f"regex it replaced took {before:.1f} s on one {MAX_TOKEN_LENGTH}-letter token (14 s in the issue)."
    )
    return [Result(NAME, times[worst_pattern], "ms", floor=peer, notes=notes,
                   extra={"issue_pattern_ms": round(issue_ms, 4), "regex_before_s": round(before, 2),
                          "per_pattern_ms": {p[:40]: round(t, 4) for p, t in times.items()}})]
