"""rules: rules.yaml loading and the indexed matcher (checked against the naive one)."""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.config import load_yaml
from wirewatch.core.errors import ConfigError
from wirewatch.processors.rules import Rule, RulesConfig, RuleSet, _as_json, load_rules
from wirewatch.search.matcher import compile_query, prepare
from wirewatch.search.query import FIELDS as query_fields

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"

ICC = {
    "id": "icc-1",
    "title": "ICC issues arrest warrant for Putin",
    "body": "The court in The Hague said Xi Jinping’s government was not informed.",
    "source": {"id": "reuters", "name": "Reuters"},
    "tags": ["war crimes", "russia"],
    "language": "en",
    "entities": [{"name": "Vladimir Putin", "type": "PERSON"}, {"name": "ICC", "type": "ORG"}],
}


def matches(query: str, item: dict[str, Any] = ICC) -> bool:
    return compile_query(query).matches(prepare(item))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("putin", True),
        ("PUTIN", True),
        ("moscow", False),
        ("hague OR moscow", True),
        ("hague AND moscow", False),
        ("hague -moscow", True),
        ("+hague moscow", True),  # optional beside a required clause
        ("hague NOT court", False),
        ("-moscow", True),  # only negative: everything without it
        ("NOT putin", False),
        ('"arrest warrant"', True),
        ('"warrant arrest"', False),
        ('"warrant arrest"~1', False),
        ('"warrant arrest"~2', True),  # swapping two words takes two moves
        ('"issues warrant"~1', True),
        ('"issues warrant"', False),
        ('"xi jinping"', True),  # possessive dropped in the item
        ('"putin the court"~5', False),  # title and body are separate fields
        ("putin AND court", True),  # ...but terms may come from either
        ("warr*", True),
        ("war?ant", True),
        ("title:putin", True),
        ("body:putin", False),
        ("source:reuters", True),
        ("search.entity:vladimir", True),  # a word of an entity name
        ('search.entity:"putin icc"', False),  # values are 100 positions apart
        ('search.entity:"putin icc"~100', True),
        ("tags:crimes AND tag:russia", True),
        ('tags:"crimes russia"', False),
        ("language:en", True),
        ("language:(fr OR de)", False),
        ('"arrest warrant" AND (Putin OR ICC)', True),
        ("(hague AND moscow) OR warrant", True),
        ("court AND (-moscow)", True),
        ("court AND (-putin)", False),
    ],
)
def test_query_features_match_an_item(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_wildcard_star_matches_any_run() -> None:
    assert matches("w*nt", {"title": "warrant", "body": "", "source": {"id": "x"}})
    assert not matches("w*nt", {"title": "warrants", "body": "", "source": {"id": "x"}})


def test_repeated_phrase_words_need_distinct_positions() -> None:
    item = {"title": "warrant issued", "body": "", "source": {"id": "x"}}
    assert not matches('"warrant warrant"~3', item)
    assert matches('"warrant warrant"~3', {**item, "title": "warrant was issued, a warrant"})


def test_multi_word_term_matches_any_of_its_words_as_elasticsearch_does() -> None:
    assert matches("covid-19", {"title": "19 killed", "body": "", "source": {"id": "x"}})
    assert not matches('"covid-19"', {"title": "19 killed", "body": "", "source": {"id": "x"}})


XI_MOSCOW = {
    "id": "xi-1",
    "title": "习近平抵达莫斯科 与普京举行会谈",
    "body": "بوتين يلتقي شي جينبينغ في موسكو. Зеленський: «Переговори тривають». นายกรัฐมนตรีเดินทางเยือนจีน",
    "source": {"id": "xinhua", "name": "新华社"},
    "tags": ["中国"],
    "entities": [{"name": "习近平"}],
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"习近平" AND 莫斯科', True),  # the rule
        ('"习近平"', True),  # a CJK phrase: consecutive one-character tokens
        ('"近习平"', False),
        ('"习近平 莫斯科"~2', True),  # 抵达 between them: two moves
        ('"习近平 莫斯科"~1', False),
        ("title:普京 AND source:新华社 AND tags:中国 AND entity:习近平", True),
        ("莫斯科", True),
        ("科学", True),  # unquoted: any one of 科 学 (as in Elasticsearch)
        ('"科学"', False),
        ("بوتين AND موسك*", True),
        ('"شي جينبينغ"', True),
        ("Зеленськ*", True),
        ("body:переговори", True),
        ("นายก*", True),  # a Thai run is one token: prefixes work
        ("นายกรัฐมนตรี", False),  # ...but not a word inside the run
        ("body:莫斯科", False),
    ],
)
def test_rules_in_any_script_match_as_elasticsearch_does(query: str, expected: bool) -> None:
    assert matches(query, XI_MOSCOW) is expected


def test_unquoted_chinese_word_loads_with_one_warning_to_quote_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {id: xi-moscow, query: '\"习近平\" AND 莫斯科'}\n"
        "  - {id: quoted, query: '\"莫斯科\" OR covid-19'}\n",
        "utf-8",
    )
    script = (
        "import sys; from wirewatch.processors.rules import load_rules\n"
        "from wirewatch.search.matcher import prepare\n"
        f"rules = load_rules(sys.argv[1]); print([r.id for r in rules.match(prepare({XI_MOSCOW!r}))])"
    )
    done = subprocess.run([sys.executable, "-c", script, str(rules)], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "['xi-moscow', 'quoted']"
    assert [(e["level"], e["event"]) for e in map(json.loads, done.stderr.splitlines())] == [
        ("warning", 'rule xi-moscow: 莫斯科 matches any one of 莫 斯 科 (as in Elasticsearch); write "莫斯科" to match the word'),
    ]


def test_load_rules_reads_every_field() -> None:
    rules = load_rules(FIXTURES / "rules.yaml").rules
    assert [r.id for r in rules] == ["icc-warrant", "zelensky-any-spelling", "not-sport"]
    assert rules[0].notify == ["desk-slack"] and rules[0].throttle == timedelta(minutes=10)
    assert rules[1].on_update is True and rules[1].throttle is None
    assert rules[2].notify == [] and rules[2].on_update is False


def test_loaded_rules_match_items() -> None:
    ruleset = load_rules(FIXTURES / "rules.yaml")
    breaking = {"title": "Zelensky in Washington", "body": "", "source": {"id": "x"}, "tags": ["Breaking"]}
    assert [r.id for r in ruleset.match(prepare(ICC))] == ["icc-warrant"]
    assert [r.id for r in ruleset.match(prepare(breaking))] == ["zelensky-any-spelling", "not-sport"]
    assert ruleset.match(prepare({**breaking, "tags": ["breaking", "sport"]}))[0].id == "zelensky-any-spelling"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_query.yaml", "bad_query.yaml: rules[2] (broken).query: at position 15: unbalanced parenthesis"),
        ("unknown_field.yaml", "unknown_field.yaml: rules[0] (by-author).query: at position 1: "
         f"unknown field 'author' (use {', '.join(sorted(query_fields))})"),
        ("duplicate_ids.yaml", "duplicate_ids.yaml: rules: duplicate rule id 'gaza'"),
        ("missing.yaml", "missing.yaml: file not found"),
    ],
)
def test_bad_rules_file_is_one_config_error_naming_the_rule(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(FIXTURES / name)
    assert str(caught.value) == f"{FIXTURES}/{message}"


def test_from_rules_names_the_rule_without_a_file() -> None:
    with pytest.raises(ConfigError, match=r"^rules\[1\] \(b\)\.query: at position 3: nothing after AND$"):
        RuleSet.from_rules([Rule(id="a", query="x"), Rule(id="b", query="x AND")])


JSON_RULES = {"rules": [
    {"id": "icc", "query": '"arrest warrant" AND (Putin OR ICC)', "notify": ["desk/slack"], "throttle": "10m"},
    {"id": "café", "query": "Zelensk* OR entity:\"Volodymyr Zelenskyy\"", "on_update": True},
    {"id": "neg", "query": "tags:breaking -tags:sport", "throttle": None},
]}


def test_json_rules_file_reads_as_yaml_does(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(JSON_RULES, indent=1).replace("/", "\\/"), "utf-8")  # \/ and \u00e9 escapes
    assert _as_json(path.read_text("utf-8")) is not None  # the fast path is taken
    loaded = load_rules(path)
    assert loaded.rules == load_yaml(path, RulesConfig).rules
    assert [r.id for r in loaded.rules] == ["icc", "café", "neg"] and loaded.rules[0].notify == ["desk/slack"]


@pytest.mark.parametrize(
    "text",
    [
        '{"rules": [{"id": 1e5, "query": "a"}]}',  # YAML 1.1: the string "1e5", JSON: a float
        '{"rules": [{"id": 1.5e3, "query": "a"}]}',
        '{"rules": [{"id": "a", "query": "\\ud83d\\ude00"}]}',  # a surrogate pair: YAML rejects it
        '{"rules":\t[{"id": "a", "query": "b"}]}',
        '{"rules": [{"id": "a\u0085b", "query": "b"}]}',  # YAML folds NEL, a line break, to a space
        '{"rules": [{"id": "a\u2028b", "query": "b"}]}',
        '{"rules": [{"id": "a\u0007", "query": "b"}]}',  # not printable: YAML rejects it
        '\ufeff{"rules": [{"id": "a", "query": "b"}]}',
        '[{"id": "a", "query": "b"}]',
        '{"rules": [{"id": "a", "query": "b"}]} # comment',
    ],
)
def test_json_that_yaml_could_read_differently_goes_through_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    assert _as_json(path.read_text("utf-8")) is None
    try:
        expected: list[Rule] | str = load_yaml(path, RulesConfig).rules
    except ConfigError as exc:
        expected = str(exc)
    try:
        got: list[Rule] | str = load_rules(path).rules
    except ConfigError as exc:
        got = str(exc)
    assert got == expected


def test_json_rules_file_errors_are_the_yaml_loaders(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"id": "gaza", "query": "Gaza"}, {"id": "gaza", "query": "Rafah"}]}), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}: rules: duplicate rule id 'gaza'"
    path.write_text(json.dumps({"rules": [{"id": "a", "query": "x"}, {"id": "b", "query": "(x"}]}), "utf-8")
    with pytest.raises(ConfigError, match=r"rules\[1\] \(b\)\.query: at position 1: unbalanced parenthesis$"):
        load_rules(path)


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_rules_leaves_gc_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        load_rules(FIXTURES / "rules.yaml")
        assert gc.isenabled() is enabled
        with pytest.raises(ConfigError):
            load_rules(FIXTURES / "bad_query.yaml")
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


def test_unknown_rule_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="notfy"):
        Rule.model_validate({"id": "a", "query": "x", "notfy": ["desk"]})


# ------------------------------------------------------------- indexed matcher

WORDS = ["putin", "xi", "gaza", "rafah", "ceasefire", "warrant", "arrest", "court", "kyiv", "zelensky",
         "zelenskyy", "nato", "rates", "bank", "sport", "election", "india", "the", "of", "new", "york"]
FIELDS = ["", "", "", "title:", "body:", "tags:", "entity:", "source:", "language:"]


def random_query(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for i in range(rng.randint(1, 4)):
        if i and rng.random() < 0.5:
            parts.append(rng.choice(["AND", "OR", "&&", "||"]))
        parts.append(rng.choice(["", "", "", "+", "-", "NOT "]))
        kind = rng.random()
        if kind < 0.15 and depth < 2:
            parts[-1] += rng.choice(FIELDS[:5]) + "(" + random_query(rng, depth + 1) + ")"
            continue
        field = rng.choice(FIELDS)
        if kind < 0.45:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 3)))
            slop = rng.choice(["", "", "~1", "~3", "~150"])
            parts[-1] += f'{field}"{words}"{slop}'
        elif kind < 0.55:
            parts[-1] += field + rng.choice(WORDS)[: rng.randint(1, 4)] + "*"
        elif kind < 0.6:
            word = rng.choice(WORDS)
            parts[-1] += field + word[0] + "?" + word[2:] if len(word) > 2 else field + word
        else:
            parts[-1] += field + rng.choice(WORDS)
    return " ".join(parts)


def random_item(rng: random.Random, n: int) -> dict[str, Any]:
    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, k)))

    return {
        "id": f"i{n}", "title": text(8), "body": text(30),
        "source": {"id": rng.choice(["reuters", "bbc"]), "name": text(2)},
        "tags": [text(2) for _ in range(rng.randint(0, 3))],
        "entities": [{"name": text(2)} for _ in range(rng.randint(0, 3))],
        "language": rng.choice(["en", "de", "the"]),
    }


def test_indexed_match_equals_naive_match_on_generated_rules_and_items() -> None:
    rng = random.Random(4)
    rules = [Rule(id=f"r{i}", query=random_query(rng)) for i in range(600)]
    ruleset = RuleSet.from_rules(rules)
    hits = 0
    for n in range(300):
        doc = prepare(random_item(rng, n))
        fast, naive = ruleset.match(doc), ruleset.match_naive(doc)
        assert fast == naive, (n, {r.query for r in naive} ^ {r.query for r in fast})
        hits += len(naive)
    assert 300 < hits < 300 * 600 // 2  # rules that sometimes match, not always


def test_only_rules_sharing_a_term_with_the_item_are_evaluated() -> None:
    rules = [Rule(id=f"w{i}", query=f'"word{i} other{i}" AND x{i}*') for i in range(1000)]
    rules.append(Rule(id="neg", query="-zzz"))
    ruleset = RuleSet.from_rules(rules)
    # anchors: one word of the phrase (the longest) suffices to make a rule a candidate
    doc = prepare({"title": "word7 other7 x7y other8 word9", "body": "", "source": {"id": "s"}})
    assert [rules[i].id for i in ruleset.candidates(doc)] == ["w7", "w8", "neg"]
    assert [r.id for r in ruleset.match(doc)] == ["w7", "neg"]
