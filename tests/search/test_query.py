"""query: Lucene query-string syntax, resolved as Elasticsearch's query_string resolves it."""

from __future__ import annotations

import random
import re

import pytest

from wirewatch.search import query as query_module
from wirewatch.search.query import (
    BooleanNode,
    Clause,
    Occur,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Term,
    Wildcard,
    character_split_words,
    parse,
    to_es_query,
    to_query_string,
)

MUST, SHOULD, NOT = Occur.MUST, Occur.SHOULD, Occur.MUST_NOT
FIELD_LIST = (
    "alerts.rule, body, dedupe.of, dedupe.status, entities.name, entities.type, entity, event_id, event_merged, fetched_at, id, is_story, "
    "language, processed_at, published_at, revision, search.body, search.entity, search.entity.exact, "
    "search.language, search.source, search.source_name, search.tags, search.title, source, source.id, "
    "source.name, story_id, tag, tags, title, updated_at"
)
RANGED = "published_at, updated_at, fetched_at, processed_at, revision"


def t(word: str, field: str | None = None, text: str | None = None) -> Term:
    return Term(text or word, (word,), field)


def test_term_is_normalised() -> None:
    assert parse("Łódź") == Term("Łódź", ("lodz",))


def test_term_of_several_words_keeps_them_all() -> None:
    assert parse("covid-19") == Term("covid-19", ("covid", "19"))
    assert to_query_string(parse("covid-19")) == "covid\\ 19"  # one clause, like Elasticsearch
    assert parse("O'Neill") == Term("O'Neill", ("o'neill",))  # an apostrophe inside a word joins (UAX#29)


def test_words_in_any_script() -> None:
    assert parse('"习近平" AND 莫斯科') == BooleanNode((
        Clause(MUST, Phrase("习近平", ("习", "近", "平"))),
        Clause(MUST, Term("莫斯科", ("莫", "斯", "科"))),
    ))
    assert parse("Зеленський") == Term("Зеленський", ("зеленський",))
    assert parse("title:بوتين*") == Prefix("بوتين", "title")
    assert parse("นายก*") == Prefix("นายก")
    assert parse("カタカナ") == Term("カタカナ", ("カタカナ",))


def test_tokens_holding_query_syntax_are_escaped_for_elasticsearch() -> None:
    assert to_query_string(parse('צה\\"ל')) == 'צה\\"ל'  # Hebrew gershayim typed as a double quote
    assert to_query_string(parse('"צה\\"ל תקף"')) == '"צה\\"ל תקף"'
    assert to_query_string(parse("a\\:b")) == "a\\:b"  # a colon inside a word (UAX#29 MidLetter)
    assert to_query_string(parse('"习近平" AND 莫斯科')) == '+"习 近 平" +莫\\ 斯\\ 科'


def test_unquoted_words_split_into_characters_are_found_for_a_warning() -> None:
    found = character_split_words('"习近平" AND 莫斯科 OR title:(東京 OR ウクライナ) covid-19 とうきょう')
    assert [(t.text, t.tokens) for t in found] == [
        ("莫斯科", ("莫", "斯", "科")), ("東京", ("東", "京")), ("とうきょう", ("と", "う", "き", "ょ", "う")),
    ]
    assert character_split_words("covid-19 OR 北") == []


def test_phrase_and_proximity() -> None:
    assert parse('"Xi Jinping\'s"') == Phrase("Xi Jinping's", ("xi", "jinping"), 0)
    assert parse('"arrest warrant"~3') == Phrase("arrest warrant", ("arrest", "warrant"), 3)
    assert to_query_string(parse('"arrest warrant"~3')) == '"arrest warrant"~3'


def test_prefix_and_wildcards() -> None:
    assert parse("Zelensk*") == Prefix("zelensk")
    assert parse("Zelensk?y") == Wildcard("zelensk?y")
    assert parse("Zel*sk*") == Wildcard("zel*sk*")
    assert parse("Zel*sk*").literal_prefix == "zel"  # type: ignore[union-attr]
    assert parse("Łód*") == Prefix("lod")
    assert parse("a\\*") == Term("a*", ("a",))  # an escaped star is a character (dropped by analysis)


def test_fields_apply_to_terms_phrases_and_groups() -> None:
    assert parse("title:Gaza") == t("gaza", "title", text="Gaza")
    assert parse('search.entity:"Xi Jinping"') == Phrase("Xi Jinping", ("xi", "jinping"), 0, "entity")
    assert parse("tag:(war OR sport)") == BooleanNode(
        (Clause(SHOULD, t("war", "tags")), Clause(SHOULD, t("sport", "tags")))
    )
    assert to_query_string(parse("source:reuters search.language:en body:x")) == (
        "search.source:reuters search.language:en search.body:x"
    )


@pytest.mark.parametrize(
    ("query", "resolved"),
    [
        ("a b", "a b"),
        ("a OR b", "a b"),
        ("a AND b", "+a +b"),
        ("+a b", "+a b"),
        ("a -b", "a -b"),
        ("a NOT b", "a -b"),
        ("a !b", "a -b"),
        ("a && b || c", "+a +b c"),
        # Lucene's per-clause rules: AND makes the clause before it required too
        ("a AND b OR c", "+a +b c"),
        ("a OR b AND c", "a +b +c"),
        ("NOT a AND b", "-a +b"),
        ("a AND NOT b", "+a -b"),
        ("-a AND b", "-a +b"),
        ("a AND -b OR +c", "+a -b +c"),
        ("(a OR b) AND c", "+(a b) +c"),
        ("(a)", "a"),
        ("-a", "-a"),
        ("NOT a", "-a"),
        ("a (-b)", "a (-b)"),
        ("a AND (-b)", "+a +(-b)"),
        # a word analysed to nothing is dropped, but its AND still binds the clause before
        ("a AND — OR b", "+a b"),
        ("a — b", "a b"),
        ("a - b", "a -b"),
        ("a-b", "a\\ b"),
        ("and or not", "and or not"),  # lowercase words are words
        ("\\AND", "and"),
    ],
)
def test_boolean_operators_resolve_like_lucene(query: str, resolved: str) -> None:
    assert to_query_string(parse(query)) == resolved


def test_resolved_tree_has_explicit_occurrences() -> None:
    assert parse("a AND b OR -c") == BooleanNode(
        (Clause(MUST, t("a")), Clause(MUST, t("b")), Clause(NOT, t("c")))
    )


@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ("", 1, "empty query"),
        ("   ", 4, "empty query"),
        ('"arrest warrant', 1, "unbalanced quote"),
        ('a "b', 3, "unbalanced quote"),
        ('"arrest warrant" AND (Putin OR ICC', 22, "unbalanced parenthesis"),
        ("a OR b)", 7, "unbalanced parenthesis"),
        ("a AND", 3, "nothing after AND"),
        ("a AND (b OR)", 10, "nothing after OR"),
        ("a -", 3, "nothing after -"),
        ("AND a", 1, "AND needs a clause before it"),
        ("a OR OR b", 6, "expected a term, phrase or group, got 'OR'"),
        ("+-a", 2, "expected a term, phrase or group, got '-'"),
        ("a ()", 3, "empty group ()"),
        ("author:smith", 1, f"unknown field 'author' (use {FIELD_LIST})"),
        ("sorce.id:x", 1, f"unknown field 'sorce.id' (did you mean source.id? use {FIELD_LIST})"),
        ("title:", 6, "title: must be followed by a term, phrase, range or group"),
        ("*stan", 1, "leading wildcard in '*stan' is not allowed"),
        ("a ?b", 3, "leading wildcard in '?b' is not allowed"),
        ("covid-1*", 1, "wildcard term 'covid-1*' must be a single word, e.g. zelensk*"),
        ("putin~2", 6, 'fuzzy terms (~) are not supported; use "a b"~N for proximity'),
        ('"a b"~', 6, 'proximity needs a whole number, e.g. "a b"~3'),
        ('"a b"~1.5', 6, 'proximity needs a whole number, e.g. "a b"~3'),
        ('"a b"~٣', 6, 'proximity needs a whole number, e.g. "a b"~3'),  # Lucene's slop takes ASCII digits only
        ("(a b)~2", 6, "~ applies to phrases only"),
        ("a^2", 2, "boosts (^) are not supported"),
        ("[a TO b]", 1, f"ranges work on {RANGED} (and need a field), e.g. published_at:[now-1h TO now]"),
        ("/ab+/", 1, "regular expressions are not supported (escape / as \\/)"),
        ('""', 1, "empty phrase"),
        ("a\\", 2, "escape character \\ at the end"),
        ("— ’", 1, "no searchable words (every word normalises to nothing)"),
        ("。、「」 ・", 1, "no searchable words (every word normalises to nothing)"),  # CJK punctuation only
        ("\u200f\u0301 ①", 1, "no searchable words (every word normalises to nothing)"),
        ("東京*", 1, "wildcard term '東京*' must be a single word, e.g. zelensk*"),  # two Han tokens
    ],
)
def test_bad_queries_name_position_and_reason(query: str, position: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert (caught.value.position, caught.value.reason) == (position, reason)
    assert str(caught.value) == f"at position {position}: {reason}"


def test_es_query_searches_title_and_body_by_default() -> None:
    assert to_es_query('"Xi Jinping’s" AND tags:China') == {
        "query_string": {
            "query": '+"xi jinping" +search.tags:china',
            "fields": ["search.title", "search.body"],
            "default_operator": "OR",
        }
    }


def _parsed(query: str) -> object:
    try:
        return parse(query)
    except QuerySyntaxError as exc:
        return str(exc)


def test_plain_term_fast_path_lexes_as_the_character_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    pieces = ["putin", "Łódź", "covid-19", "a+b", "x", "AND", "OR", "NOT", "&&", "||", "and", " ", " ", "  ",
              "\t", "\u3000", "(", ")", "+", "-", "!", ":", '"', "~", "~2", "*", "?", "\\", "\\:", "\\ ", "title:",
              "tags:", "author:", "^", "[", "/", "é", "o'neill", "9", ".", ",", "_", "#", "@", "'", "\u00a0", "\u2028"]
    queries = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(4000)]
    queries += ["zelensk*", "w*nt", "war?ant", "a\\*b", "a-b-", "a+", "+a", "a\\", "ab\\ cd", "x:y", "a&&b"]
    fast = [_parsed(q) for q in queries]
    monkeypatch.setattr(query_module, "_PLAIN_TERM", re.compile(r"(?!)"))  # every term through the loop
    slow = [_parsed(q) for q in queries]
    assert fast == slow
    assert sum(isinstance(r, str) for r in fast) < len(queries) * 0.9  # many queries parse
