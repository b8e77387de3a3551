"""The matcher's speed-ups change no result: lazy documents, merged term tests, re-anchoring, second-word groups.

The oracle is :meth:`RuleSet.match_naive` (every rule evaluated) and, for the
document, sets and texts built plainly from :func:`search_fields`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from wirewatch.processors.rules import LEARN_ITEMS, Rule, RuleSet
from wirewatch.search.analysis import search_fields
from wirewatch.search.matcher import (
    FactsAnalyser,
    MatchDocument,
    QueryFacts,
    anchors_of,
    compile_query,
    prepare,
    required_in_text_of,
    required_of,
)
from wirewatch.search.query import QuerySyntaxError, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
ITEMS: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "parity_items.yaml").read_text("utf-8"))
QUERIES = [
    line.partition("\t")[0]
    for line in (FIXTURES / "parity_queries.txt").read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def test_lazy_document_equals_sets_and_texts_built_from_search_fields() -> None:
    for item in ITEMS:
        fields = search_fields(item)
        values = {name: value if isinstance(value, list) else [value] for name, value in fields.items()}
        doc = prepare(item)
        for name, texts in values.items():
            assert doc.sets[name] == {t for text in texts for t in text.split()}, (item["id"], name)
            assert doc.sets.get(name) == doc.sets[name]
        assert doc.sets[None] == set(fields["title"].split()) | set(fields["body"].split())
        assert doc.sets["no-such-field"] == set() and doc.sets.get("no-such-field") is None
        assert doc.tokens == {t for texts in values.values() for text in texts for t in text.split()}
        assert doc.texts == {name: [f" {text} " for text in texts] for name, texts in values.items()}
        stored = MatchDocument.from_fields(fields, item)
        for query in QUERIES:
            compiled = compile_query(query)
            assert compiled.matches(doc) == compiled.matches(stored), (item["id"], query)


def test_indexed_match_equals_naive_match_before_and_after_learning() -> None:
    rules = [Rule(id=f"q{i}", query=q) for i, q in enumerate(QUERIES)]
    ruleset = RuleSet.from_rules(rules)
    hits = 0
    for n in range(LEARN_ITEMS + 2 * len(ITEMS)):
        doc = prepare(ITEMS[n % len(ITEMS)])
        fast, naive = ruleset.match(doc), ruleset.match_naive(doc)
        assert fast == naive, (n, ITEMS[n % len(ITEMS)]["id"])
        hits += len(fast)
    assert hits > LEARN_ITEMS


def test_rules_are_reanchored_on_their_rarest_required_word_after_learning() -> None:
    rules = [
        Rule(id="both", query="regulators AND Austria"),
        Rule(id="phrase", query='"price stability" AND Chile'),
        Rule(id="either", query="regulators OR Austria"),  # no word is required: keeps both anchors
    ]
    ruleset = RuleSet.from_rules(rules)
    common = prepare({"title": "Regulators on price stability", "body": "", "source": {"id": "x"}})
    # first anchors: the longest word of each rule
    assert ruleset.candidates(common) == [0, 1, 2]
    for n in range(LEARN_ITEMS):
        body = "regulators said price stability mattered" + (" in Austria" if n % 10 == 0 else "")
        doc = prepare({"title": f"story {n}", "body": body, "source": {"id": "x"}})
        assert ruleset.match(doc) == ruleset.match_naive(doc)
    # "austria" (1 item in 10) and "chile" (none) are rarer than the words they anchored on
    assert ruleset.candidates(common) == [2]
    rare = prepare({"title": "Regulators in Austria on price stability in Chile", "body": "", "source": {"id": "x"}})
    assert ruleset.candidates(rare) == [0, 1, 2]
    assert [r.id for r in ruleset.match(rare)] == ["both", "phrase", "either"]


def test_lazily_compiled_rules_match_as_compiled_ones() -> None:
    rules = [Rule(id=f"q{i}", query=q) for i, q in enumerate(QUERIES)]
    eager = [compile_query(q) for q in QUERIES]
    ruleset = RuleSet.from_rules(rules)
    assert ruleset.compiled_count() == 0
    hits = 0
    for item in ITEMS:
        doc = prepare(item)
        expected = [r for r, q in zip(rules, eager, strict=True) if q.matches(doc)]
        assert ruleset.match(doc) == expected, item["id"]
        hits += len(expected)
    assert hits
    # only candidates were compiled; the naive matcher compiles the rest and agrees
    assert 0 < ruleset.compiled_count() < len(rules)
    for item in ITEMS:
        doc = prepare(item)
        assert ruleset.match_naive(doc) == [r for r, q in zip(rules, eager, strict=True) if q.matches(doc)]
    assert ruleset.compiled_count() == len(rules)


def test_facts_analyser_gives_what_the_three_functions_give() -> None:
    rng = random.Random(5)
    ops = [" AND ", " OR ", " ", " NOT ", " AND NOT ", " -", " +"]
    queries = QUERIES + [
        f"({rng.choice(QUERIES)}){rng.choice(ops)}({rng.choice(QUERIES)}){rng.choice(ops)}{rng.choice(QUERIES)}"
        for _ in range(2000)
    ]
    analyser = FactsAnalyser()
    checked = 0
    for query in queries:
        try:
            node = parse(query)
        except QuerySyntaxError:
            continue
        checked += 1
        facts = analyser.facts(query)
        assert facts == QueryFacts(anchors_of(node), required_of(node), required_in_text_of(node)), query
        again = analyser.facts(query)  # equal sets are one object
        assert again.required is facts.required and again.anchors is facts.anchors
    assert checked > 1000
