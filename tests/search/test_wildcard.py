"""wildcard: ``*``/``?`` patterns matched without backtracking, at a cost proven bounded.

Issue 16: ``a*a*a*a*a*b`` against a 255-letter token took 14 s through a
backtracking regular expression, one more star over 120 s. The cost here is
counted, not timed: every middle segment of a pattern is searched at most once
per token, left to right (no position is ever tried again).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.search import wildcard
from wirewatch.search.matcher import MatchDocument, compile_query, prepare
from wirewatch.search.wildcard import WildcardPattern

LONG_TOKEN = "a" * 255  # the longest token analysis keeps (MAX_TOKEN_LENGTH)

#: The attack run's patterns and worse: many stars, stars around ``?``, near-misses at the end.
WORST_PATTERNS = [
    "a*a*a*a*a*b",
    "a*a*a*a*a*a*b",
    "a" + "*a" * 60 + "*b",
    "a" + "*a" * 300,  # more segments than the token has letters
    "a" + "*a?" * 40 + "*b",
    "a" + "*aaaa?b" * 10 + "*a",
    "a*" + "?" * 200 + "*b",
    "a" + "*" * 100 + "b",
    "a?*?a*?a*a?a*b",
]


class Counted:
    """Calls of :func:`wildcard.find_segment`: (segment, start, end, result) each."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, int]] = []

    def __len__(self) -> int:
        return len(self.calls)


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    counted = Counted()
    real = wildcard.find_segment

    def counting(token: str, segment: wildcard.Segment, start: int, end: int) -> int:
        found = real(token, segment, start, end)
        counted.calls.append((segment.text, start, end, found))
        return found

    monkeypatch.setattr(wildcard, "find_segment", counting)
    yield counted


@pytest.mark.parametrize("pattern", WORST_PATTERNS)
def test_each_middle_segment_is_searched_at_most_once_left_to_right(pattern: str, searches: Counted) -> None:
    compiled = WildcardPattern(pattern)
    for token in (LONG_TOKEN, LONG_TOKEN[:-1] + "b", "ab" * 127, "a" * 254 + "c"):
        searches.calls.clear()
        assert compiled.matches(token) == fnmatch.fnmatchcase(token, pattern), (pattern, token)
        assert len(searches) <= len(compiled.middle)  # never a second try: no backtracking
        assert [text for text, *_ in searches.calls] == [s.text for s in compiled.middle][: len(searches)]
        starts = [start for _, start, _, _ in searches.calls]
        ends = [found + len(text) for text, _, _, found in searches.calls]
        assert all(nxt == end for nxt, end in zip(starts[1:], ends, strict=False))  # each from where the last ended


def test_a_segment_with_question_marks_checks_each_place_at_most_once() -> None:
    """Inside one segment the candidates come from ``str.find`` in increasing order."""
    checked: list[int] = []

    class Spy(wildcard.Segment):
        def at(self, token: str, start: int) -> bool:
            checked.append(start)
            return super().at(token, start)

    base = wildcard.Segment.of("aaaa?b")
    spy = Spy(base.text, base.runs, base.anchor, base.anchor_at, base.plain)
    assert wildcard.find_segment(LONG_TOKEN, spy, 1, 255) == -1
    assert checked == sorted(set(checked)) and len(checked) <= 255 - 1 - len(spy) + 1


@pytest.mark.parametrize("pattern", WORST_PATTERNS)
def test_places_tried_in_a_whole_match_are_at_most_the_token_length_plus_the_segments(
    pattern: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments with ``?`` try places in increasing order, each segment from where the last ended."""
    tried: list[int] = []
    real = wildcard.Segment.at

    def counting(self: wildcard.Segment, token: str, start: int) -> bool:
        tried.append(start)
        return real(self, token, start)

    monkeypatch.setattr(wildcard.Segment, "at", counting)
    compiled = WildcardPattern(pattern)
    for token in (LONG_TOKEN, LONG_TOKEN[:-1] + "b", "ab" * 127, "a" * 254 + "c"):
        tried.clear()
        compiled.matches(token)
        assert len(tried) <= len(token) + len(compiled.middle) + 2  # + head and tail


def test_the_attack_pattern_in_a_rule_costs_at_most_one_search_per_segment(searches: Counted) -> None:
    """The issue's case end to end: a rule or search against an item holding the token."""
    item = {"title": "Long word", "body": f"{LONG_TOKEN} and more a words: {'a' * 20}b ab"}
    doc = prepare(item)
    queries = ("a*a*b", "a*a*a*a*a*b", "a*a*a*a*a*a*a*a*a*a*a*a*a*b", "body:(a*a*a*a*a*a*a*b AND more)")
    for query in queries:  # the cheap one first: a regex matcher fails its count at once
        searches.calls.clear()
        assert compile_query(query).matches(doc) is True  # "aa...ab" matches
        tokens_tried = len(doc.with_prefix(None, "a")) + len(doc.with_prefix("body", "a"))
        assert 0 < len(searches) <= tokens_tried * query.count("*")
    searches.calls.clear()
    assert compile_query("a*a*a*a*a*c").matches(doc) is False
    assert len(searches) == 0  # no token ends in c: the anchored tail decides before any search


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("zelensk?y", ["zelenskyy", "zelenskiy"], ["zelensky", "zelenskiyy"]),
        ("zel*sk*", ["zelensky", "zelsk", "zelskiy"], ["zels", "zeal"]),
        ("a*b*a", ["aba", "abba", "abxxba"], ["ab", "abab"]),
        ("a?", ["ab", "a1"], ["a", "abc"]),
        ("ab*", ["ab", "abc"], ["a"]),
        ("ab*?", ["abc"], ["ab"]),
        ("κ*ς", ["κόσμος"], ["κόσμο"]),  # characters, not bytes
    ],
)
def test_semantics(pattern: str, yes: list[str], no: list[str]) -> None:
    compiled = WildcardPattern(pattern)
    assert [compiled.matches(t) for t in yes] == [True] * len(yes)
    assert [compiled.matches(t) for t in no] == [False] * len(no)


@settings(max_examples=10 * settings().max_examples)
@given(pattern=st.text("ab*?", min_size=1, max_size=12), token=st.text("ab", max_size=14))
def test_agrees_with_fnmatch(pattern: str, token: str) -> None:
    """The reference: fnmatch (a regex, fine on these small cases) on the same alphabet."""
    assert WildcardPattern(pattern).matches(token) == fnmatch.fnmatchcase(token, pattern)


def test_matcher_uses_the_tokens_of_the_field() -> None:
    doc = MatchDocument({"title": [["grain", "corridor"]], "body": [["ukraine"]], "tags": [["gr8"]]})
    assert compile_query("gr?in").matches(doc) is True
    assert compile_query("tag:gr?").matches(doc) is True
    assert compile_query("title:ukr*e").matches(doc) is False
