"""Fuzzing the query parser and matcher (issue 16): any string ends in a tree or a QuerySyntaxError.

The attack run's fuzz of 3,000 wildcard-heavy or deep queries found 47
RecursionErrors and 5 queries over 5 s. Here every generated query either
parses, and then compiles, renders (query string and Elasticsearch query) and
matches hostile items; or raises QuerySyntaxError with a position inside the
query and a reason. The cost of matching is counted, not timed. Seeds are fixed
(tests/conftest.py: profile "ci"); WIREWATCH_FUZZ=long explores further.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.search import wildcard
from wirewatch.search.matcher import FactsAnalyser, MatchDocument, compile_query, prepare
from wirewatch.search.query import (
    MAX_DEPTH,
    BooleanNode,
    Exists,
    MatchAll,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Range,
    Term,
    Wildcard,
    parse,
    to_es_query,
    to_query_string,
)

#: Items a query is matched against: the 255-letter token of the attack, long runs, scripts.
HOSTILE_ITEMS: list[dict[str, Any]] = [
    {"title": "a" * 255, "body": ("a" * 254 + "b ") * 3 + "ab ba aab " + "ab" * 127, "tags": ["a", "b"]},
    {"title": "Зеленский заявил", "body": "Ζελένσκι και " + "ζ" * 300 + " مرحبا بالعالم 東京 Tōkyō"},
    {"title": "", "body": " ".join(f"a{'b' * i}" for i in range(200)), "source": {"id": "aaa", "name": "A A"}},
]
DOCS = [prepare(item) for item in HOSTILE_ITEMS]

#: Query syntax, words that hit the items, and characters that are trouble elsewhere.
PIECES = [
    "a", "b", "ab", "aa", "zel", "зел", "ζ", "*", "?", "*", "?", "(", ")", "(", ")", '"', "~", "~2", "~99",
    ":", "+", "-", "!", "\\", "^", "[", "]", "{", "}", "/", " ", " ", " AND ", " OR ", " NOT ", "&&", "||",
    "title:", "body:", "tag:", "entity:", "nope:", "²", "٣", "\u200d", "\u202e", "\ue000", "\u3000", "\x00",
    "published_at:", "revision:", "source.id:", "is_story:", "story_id:", " TO ", "now", "-1h", "/d", "||",
    "2026-12-04", "T10:00", "Z", "1", "true", "*:*",
]
queries = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=60)


def wildcard_heavy() -> st.SearchStrategy[str]:
    """``a*a*?b``-like terms, alone or combined, inside groups up to past the depth limit."""
    term = st.builds(
        lambda head, rest: head + "".join(rest),
        st.sampled_from(["a", "ab", "z", "ζ"]),
        st.lists(st.sampled_from(["*", "?", "a", "b", "*a", "?a", "*b"]), max_size=60),
    )
    clause = st.lists(term, min_size=1, max_size=4).map(" OR ".join)
    return st.builds(lambda c, depth: "(" * depth + c + ")" * depth, clause, st.integers(0, MAX_DEPTH + 40))


def deep() -> st.SearchStrategy[str]:
    """Nested groups with operators and fields, runs of each kind up to 1,200 levels in all
    (Python's stack ended at ~490 before the limit)."""
    level = st.sampled_from(["(", "a AND (", "-(", "title:(", "+(", "NOT b OR ("])
    runs = st.lists(st.tuples(level, st.integers(1, 300)), min_size=1, max_size=4)
    return st.builds(
        lambda opens, inner: "".join(kind * n for kind, n in opens) + inner + ")" * sum(n for _, n in opens),
        runs,
        st.sampled_from(["a", "a*b", '"a b"~3', "ab?", "x"]),
    )


def slops() -> st.SearchStrategy[str]:
    """Proximities of any length, with digits ``str.isdigit`` knows and ``int`` does not."""
    return st.builds(lambda words, digits: f'"{words}"~{digits}',
                     st.sampled_from(["a b", "ab ba", "a"]), st.text("0123456789²٣", max_size=6000))


@contextmanager
def counting_searches() -> Iterator[list[int]]:
    """One entry per segment search of the wildcard matcher: the unit of its cost."""
    counted: list[int] = []
    real = wildcard.find_segment

    def counting(token: str, segment: wildcard.Segment, start: int, end: int) -> int:
        counted.append(1)
        return real(token, segment, start, end)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wildcard, "find_segment", counting)
        yield counted


def search_budget(query_tree: object) -> int:
    """The most segment searches matching may take on DOCS: per wildcard, one per middle
    segment per token of the item (tokens counted once per field the matcher may look in)."""
    patterns: list[Wildcard] = []

    def walk(node: object) -> None:
        if isinstance(node, Wildcard):
            patterns.append(node)
        elif isinstance(node, BooleanNode):
            for clause in node.clauses:
                walk(clause.node)

    walk(query_tree)
    tokens = sum(len(doc.tokens) for doc in DOCS)
    return sum(len(wildcard.WildcardPattern(p.pattern).middle) * tokens for p in patterns)


def check(query: str) -> None:
    """Parse, compile, render and match ``query``; the only exception allowed is QuerySyntaxError."""
    try:
        node = parse(query)
    except QuerySyntaxError as exc:
        assert 1 <= exc.position <= len(query) + 1 and exc.reason
        assert str(exc) == f"at position {exc.position}: {exc.reason}"
        return
    assert isinstance(node, Term | Phrase | Prefix | Wildcard | Range | Exists | MatchAll | BooleanNode)
    compiled = compile_query(query)
    assert compiled.node == node
    rendered = to_query_string(node)
    assert isinstance(rendered, str) and rendered
    assert to_es_query(query)["query_string"]["query"] == rendered
    try:
        FactsAnalyser().facts(query)
    except QuerySyntaxError as exc:  # only a field rules can't use (decided after they run)
        assert "is decided after rules run" in exc.reason
    with counting_searches() as counted:
        verdicts = [compiled.matches(doc) for doc in DOCS]
    assert all(isinstance(v, bool) for v in verdicts)
    assert len(counted) <= search_budget(node)


@given(query=queries)
@settings(max_examples=10 * settings().max_examples)
def test_any_text_is_a_tree_or_a_syntax_error(query: str) -> None:
    check(query)


@given(query=wildcard_heavy())
@settings(max_examples=5 * settings().max_examples)
def test_wildcard_heavy_queries(query: str) -> None:
    check(query)


@given(query=deep())
@settings(max_examples=settings().max_examples)
def test_deep_queries_are_refused_past_the_limit_only(query: str) -> None:
    depth = max_nesting(query)
    if depth > MAX_DEPTH:
        with pytest.raises(QuerySyntaxError, match=f"groups \\( \\) nested more than {MAX_DEPTH} deep"):
            parse(query)
    check(query)


@given(query=slops())
@settings(max_examples=settings().max_examples)
def test_proximity_of_any_size_is_a_tree_or_a_syntax_error(query: str) -> None:
    check(query)


def max_nesting(query: str) -> int:
    depth = deepest = 0
    for c in query:
        depth += (c == "(") - (c == ")")
        deepest = max(deepest, depth)
    return deepest


def glob_reference(pattern: str, token: str) -> bool:
    """Textbook dynamic programming over (pattern prefix, token prefix): obviously right, O(n*m)."""
    reach = [True] + [False] * len(token)  # reach[j]: pattern so far matches token[:j]
    for c in pattern:
        if c == "*":
            for j in range(1, len(reach)):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j - 1] and (c == "?" or c == token[j - 1]) for j in range(1, len(reach))]
    return reach[-1]


@given(
    pattern=st.text("ab*?", min_size=1, max_size=80),
    token=st.text("ab", max_size=255) | st.integers(0, 255).map(lambda n: "a" * n + "b"),
)
@settings(max_examples=5 * settings().max_examples)
def test_compiled_wildcard_is_exact_and_bounded_on_adversarial_tokens(pattern: str, token: str) -> None:
    compiled = wildcard.WildcardPattern(pattern)
    with counting_searches() as searches:
        assert compiled.matches(token) == glob_reference(pattern, token)
    assert len(searches) <= len(compiled.middle)  # one search per segment: no backtracking
    if pattern[0] in "*?":  # a query's wildcard never leads
        return
    doc = MatchDocument({"title": [[token]] if token else [], "body": [[]]})
    with counting_searches() as searches:  # as a query: the same answer, the same bound
        assert compile_query(pattern).matches(doc) == glob_reference(pattern, token)
    assert len(searches) <= len(compiled.middle)
