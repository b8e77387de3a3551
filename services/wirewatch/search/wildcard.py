"""Wildcard patterns (``*`` any run, ``?`` one character) matched without backtracking.

A regular expression such as ``a.*a.*a.*b`` backtracks: against a 255-letter token
``a*a*a*a*a*b`` took 14 s and one more ``*`` over 120 s (issue 16). Here the pattern
is cut at its stars into fixed-length segments; the first must sit at the start of
the token, the last at its end, and each middle one is searched once, leftmost
first, after the previous one. Taking the leftmost place never loses a match (any
later place leaves less room for the segments after it), so nothing is ever tried
again: a token of n characters costs at most one left-to-right search per segment,
O(n * m) character comparisons for a pattern of m characters, and one ``str.find``
(O(n) in C) per segment when the segment holds no ``?``. A segment with ``?`` tries
places in increasing order from where the previous one ended, so a whole match
tries at most n + (number of segments) places; a pattern longer than the token
(stars aside) is refused before any search.

Why not a library: ``fnmatch`` compiles to a regular expression (bounded since
Python 3.9 by atomic groups, but the bound then rests on the engine's internals),
and ``wcmatch`` does the same; the algorithm above is short and its bound is
checked by counting its searches (tests/search/test_wildcard.py).
"""

from __future__ import annotations

from dataclasses import dataclass

ANY_RUN, ANY_CHAR = "*", "?"


@dataclass(frozen=True, slots=True)
class Segment:
    """A fixed-length piece of a pattern between stars: literal runs at offsets, ``?`` between.

    ``anchor`` is the longest literal run and ``anchor_at`` its offset, the text
    ``str.find`` looks for; empty when the segment is only ``?``.
    """

    text: str
    runs: tuple[tuple[int, str], ...]
    anchor: str
    anchor_at: int
    plain: bool  # no ``?``: the segment is its anchor

    @classmethod
    def of(cls, text: str) -> Segment:
        runs: list[tuple[int, str]] = []
        at = 0
        for piece in text.split(ANY_CHAR):
            if piece:
                runs.append((at, piece))
            at += len(piece) + 1
        anchor_at, anchor = max(runs, key=lambda run: len(run[1]), default=(0, ""))
        return cls(text, tuple(runs), anchor, anchor_at, ANY_CHAR not in text)

    def __len__(self) -> int:
        return len(self.text)

    def at(self, token: str, start: int) -> bool:
        """Does the segment match ``token`` at ``start`` (which leaves room for it)?"""
        for offset, run in self.runs:  # noqa: SIM110 (a loop: no generator object per call)
            if not token.startswith(run, start + offset):
                return False
        return True


def find_segment(token: str, segment: Segment, start: int, end: int) -> int:
    """Leftmost place >= ``start`` where ``segment`` matches inside ``token[:end]``, or -1.

    Candidates come from ``str.find`` of the segment's longest literal run, in
    increasing order, each checked once: at most ``end - start`` candidates.
    """
    last = end - len(segment)  # the last place the segment fits
    if last < start:
        return -1
    if segment.plain:  # one search in C
        return token.find(segment.anchor, start, end)
    if not segment.anchor:  # only ``?``: any place fits
        return start
    lead = segment.anchor_at
    while start <= last:
        found = token.find(segment.anchor, start + lead, last + lead + len(segment.anchor))
        if found < 0:
            return -1
        place = found - lead
        if segment.at(token, place):
            return place
        start = place + 1
    return -1


class WildcardPattern:
    """A compiled wildcard pattern: ``WildcardPattern("zel*sk?y").matches("zelenskyy")``."""

    __slots__ = ("head", "middle", "min_length", "pattern", "tail")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        parts = pattern.split(ANY_RUN)
        self.head = Segment.of(parts[0])
        #: None when the pattern has no star: the head must then be the whole token
        self.tail: Segment | None = Segment.of(parts[-1]) if len(parts) > 1 else None
        self.middle = tuple(Segment.of(p) for p in parts[1:-1] if p)
        self.min_length = len(pattern) - pattern.count(ANY_RUN)

    def matches(self, token: str) -> bool:
        """Does the whole ``token`` match? One leftmost search per middle segment, never a retry."""
        size = len(token)
        if size < self.min_length:
            return False
        head, tail = self.head, self.tail
        # plain head and tail by str methods, not Segment.at: "ukr*ne" 1.03 -> 0.67 us for 3 tokens (regex: 0.4-0.75);
        # tests/search/test_wildcard.py::test_agrees_with_fnmatch
        if not (token.startswith(head.text) if head.plain else head.at(token, 0)):
            return False
        if tail is None:
            return size == self.min_length
        end = size - len(tail.text)
        if not (token.endswith(tail.text) if tail.plain else tail.at(token, end)):
            return False
        start = len(head.text)
        for segment in self.middle:
            found = find_segment(token, segment, start, end)
            if found < 0:
                return False
            start = found + len(segment.text)
        return True
