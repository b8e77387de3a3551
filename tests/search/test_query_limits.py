"""query: hostile queries end in a QuerySyntaxError with position and reason, never another exception.

Issue 16: ~600 nested parentheses raised RecursionError, a slop of 5,000 digits
a ValueError. Nesting is capped at MAX_DEPTH groups and slop at MAX_SLOP; trees
up to the cap go through every recursive walk with a small stack to spare.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

from wirewatch.processors.rules import Rule, RuleSet
from wirewatch.search.matcher import (
    FactsAnalyser,
    anchors_of,
    compile_query,
    prepare,
    required_in_text_of,
    required_of,
)
from wirewatch.search.query import (
    MAX_DEPTH,
    MAX_SLOP,
    Phrase,
    QuerySyntaxError,
    parse,
    to_es_query,
    to_query_string,
)


def nested(depth: int, inner: str = "a") -> str:
    return "(" * depth + inner + ")" * depth


def chain(depth: int, op: str) -> str:
    """``w0 op (w1 op (w2 ...))``: ``depth`` groups, each a real boolean level of the tree."""
    query = f"w{depth}"
    for i in range(depth - 1, -1, -1):
        query = f"w{i} {op} ({query})"
    return query


def reject(query: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    return caught.value


def test_six_hundred_nested_groups_are_a_syntax_error_at_the_first_group_too_deep() -> None:
    error = reject(nested(600))
    assert (error.position, error.reason) == (MAX_DEPTH + 1, f"groups ( ) nested more than {MAX_DEPTH} deep")
    assert str(error) == f"at position 33: groups ( ) nested more than {MAX_DEPTH} deep"


def test_the_depth_limit_counts_open_groups_only() -> None:
    assert parse(nested(MAX_DEPTH)) == parse("a")
    assert reject(nested(MAX_DEPTH + 1)).position == MAX_DEPTH + 1
    field_groups = "title:(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert to_query_string(parse(field_groups)) == "search.title:a"
    assert reject("title:(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)).position == 7 * MAX_DEPTH + 7
    wide = " ".join([nested(MAX_DEPTH)] * 50)  # many groups side by side: depth, not count
    assert len(parse(wide).clauses) == 50  # type: ignore[union-attr]
    assert reject(f"x {nested(MAX_DEPTH)} ({nested(MAX_DEPTH)})").reason.startswith("groups ( ) nested")


def test_a_slop_of_five_thousand_digits_is_a_syntax_error_with_a_short_message() -> None:
    error = reject('"a b"~' + "9" * 5000)
    assert error.position == 6
    assert error.reason == f"proximity ~{'9' * 20}... (5000 characters) is larger than {MAX_SLOP}"


def test_slop_up_to_the_java_int_lucene_keeps() -> None:
    assert parse(f'"a b"~{MAX_SLOP}') == Phrase("a b", ("a", "b"), MAX_SLOP)
    assert to_query_string(parse(f'"a b"~{MAX_SLOP}')) == f'"a b"~{MAX_SLOP}'
    assert parse('"a b"~' + "0" * 40 + "3") == Phrase("a b", ("a", "b"), 3)  # leading zeros are no size
    assert reject(f'"a b"~{MAX_SLOP + 1}').reason == f"proximity ~{MAX_SLOP + 1} is larger than {MAX_SLOP}"


@pytest.mark.parametrize("digit", ["²", "٣", "３", "𝟗"])
def test_slop_digits_are_ascii_as_in_lucene(digit: str) -> None:
    """``str.isdigit`` says yes to these, ``int`` said ValueError (or another number)."""
    error = reject(f'"a b"~{digit}')
    assert (error.position, error.reason) == (6, 'proximity needs a whole number, e.g. "a b"~3')


@contextmanager
def stack_headroom(frames: int) -> Iterator[None]:
    """Only ``frames`` more Python frames allowed than the caller already uses."""
    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


DEEPEST = [chain(MAX_DEPTH, "AND"), chain(MAX_DEPTH, "OR"), chain(MAX_DEPTH, "-"), chain(MAX_DEPTH, "AND NOT")]


@pytest.mark.parametrize("query", DEEPEST)
def test_the_deepest_allowed_tree_passes_every_recursive_walk_with_150_frames(query: str) -> None:
    """Parser, compiler, renderer, facts, rule index and the matcher itself: 3 frames a level at most."""
    # every word: the chains match (with negations: w32 true, w31 -(w32) false, w30 -(...) true, ...)
    item = {"title": "w0 w1", "body": " ".join(f"w{i}" for i in range(MAX_DEPTH + 1))}
    walks: list[Callable[[], object]] = [
        lambda: parse(query),
        lambda: compile_query(query).matches(prepare(item)),
        lambda: to_query_string(parse(query)),
        lambda: to_es_query(query),
        lambda: FactsAnalyser().facts(query),
        lambda: (anchors_of(parse(query)), required_of(parse(query)), required_in_text_of(parse(query))),
        lambda: [r.id for r in RuleSet.from_rules([Rule(id="deep", query=query)]).match(prepare(item))],
    ]
    expected = [walk() for walk in walks]
    with stack_headroom(150):
        results = [walk() for walk in walks]
    assert results == expected  # compared outside: dataclass equality recurses too
    assert results[1] is True and results[-1] == ["deep"]
