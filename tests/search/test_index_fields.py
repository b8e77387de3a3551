"""Query fields are the item index's own names; ranges, ``*`` and ``field:*`` (issue 17, items 8 and 9).

What each field means is checked against Elasticsearch by
tests/processors/test_elastic_parity.py; here: how queries parse and render, the
errors, the date math (:mod:`wirewatch.search.datemath`), and the stream (rules).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import Rule, RuleSet
from wirewatch.search.datemath import DateMathError, parse_bound
from wirewatch.search.matcher import compile_query, prepare
from wirewatch.search.query import (
    Exists,
    MatchAll,
    QuerySyntaxError,
    Range,
    Term,
    parse,
    to_es_query,
    to_query_string,
)

RAW = Path(__file__).resolve().parent.parent / "fixtures" / "processors" / "raw_items.jsonl"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# ------------------------------------------------------------------ parsing

@pytest.mark.parametrize(
    ("query", "rendered"),
    [
        ("source.id:reuters", 'source.id:"reuters"'),
        ("source.id:Kyiv-Independent", 'source.id:"Kyiv-Independent"'),  # keywords keep their case
        ('story_id:"meridian-wire:mw-1001"', 'story_id:"meridian-wire:mw-1001"'),
        ("is_story:true", 'is_story:"true"'),
        ("dedupe.status:duplicate", 'dedupe.status:"duplicate"'),
        ("language:en", 'language:"en"'),
        ("entities.type:PERSON", 'entities.type:"PERSON"'),
        ("entity:Japan", 'search.entity.exact:"japan"'),  # a whole name, normalised
        ('entities.name:"Bank of Japan"', 'search.entity.exact:"bank of japan"'),
        ("entity:bank*", "search.entity.exact:bank*"),
        ('source.name:"Süddeutsche Zeitung"', 'search.source_name:"suddeutsche zeitung"'),
        ("search.entity:japan", "search.entity:japan"),  # words inside entity names
        ("source.id:kyiv\\ ind*", "source.id:kyiv\\ ind*"),
        ("published_at:[now-1h TO now]", 'published_at:["now-1h" TO "now"]'),
        ("published_at:{2026-12-04 TO *]", 'published_at:{"2026-12-04" TO *]'),
        ("updated_at:[* TO 2026-12-04T10:30:00Z}", 'updated_at:[* TO "2026-12-04T10:30:00Z"}'),
        ("revision:[2 TO *]", 'revision:["2" TO *]'),
        ("published_at:2026-12-04", 'published_at:["2026-12-04" TO "2026-12-04"]'),
        ("published_at:>now-1h", 'published_at:{"now-1h" TO *]'),  # query_string's one-sided ranges
        ("published_at:>=2026-12-04", 'published_at:["2026-12-04" TO *]'),
        ("revision:<2", 'revision:[* TO "2"}'),
        ("revision:<=2", 'revision:[* TO "2"]'),
        ("*", "*:*"),
        ("*:*", "*:*"),
        ("updated_at:*", "updated_at:*"),
        ("title:*", "search.title:*"),
        ("war AND -dedupe.status:duplicate", '+war -dedupe.status:"duplicate"'),
    ],
)
def test_index_field_queries_render_for_the_item_index(query: str, rendered: str) -> None:
    assert to_query_string(parse(query)) == rendered


def test_ranges_and_stars_parse_to_their_nodes() -> None:
    assert parse("published_at:[now-15m TO now]") == Range("=published_at", "now-15m", "now", True, True)
    assert parse('fetched_at:{"2026-12-04" TO *}') == Range("=fetched_at", "2026-12-04", None, False, False)
    assert parse("revision:3") == Range("=revision", "3", "3")
    assert parse("*") == MatchAll()
    assert parse("source.id:*") == Exists("=source.id")
    assert parse("entity:Japan") == Term("Japan", ("japan",), "=entity")
    assert to_es_query("*")["query_string"]["query"] == "*:*"


@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ("[now-1h TO now]", 1, "ranges work on published_at, updated_at, fetched_at, processed_at, revision "
                               "(and need a field), e.g. published_at:[now-1h TO now]"),
        ("title:[a TO b]", 7, "ranges work on published_at, updated_at, fetched_at, processed_at, revision "
                              "(not on search.title), e.g. published_at:[now-1h TO now]"),
        ("published_at:[now-1h now]", 14, "a range is field:[a TO b] ({ } for exclusive ends, * for an open one)"),
        ("published_at:[now-1h TO now", 14, "a range is field:[a TO b] ({ } for exclusive ends, * for an open one)"),
        ("published_at:[yesterday TO now]", 14, "published_at: cannot read 'yesterday' as a date: use a date "
         "(2026-12-04, 2026-12-04T10:30:00Z) or now with math (now-15m, now-1h, now-7d/d)"),
        ("published_at:[2026-12 TO now]", 14, "published_at: cannot read '2026-12' as a date: use a date "
         "(2026-12-04, 2026-12-04T10:30:00Z) or now with math (now-15m, now-1h, now-7d/d)"),
        ("published_at:[now-1q TO now]", 14, "published_at: cannot read date math '-1q' in 'now-1q': use a date "
         "(2026-12-04, 2026-12-04T10:30:00Z) or now with math (now-15m, now-1h, now-7d/d)"),
        ("published_at:[2026-02-30 TO now]", 14, "published_at: '2026-02-30' is no date (day is out of range for month)"),
        ("revision:[1.5 TO 2]", 10, "revision takes whole numbers, not '1.5'"),
        ("published_at:[now-999999999y TO now]", 14,
         "published_at: date math goes beyond year 9999 or before year 1 (-999999999y)"),
        ("published_at:[0001-01-01||-1s TO *]", 14, "published_at: date math goes beyond year 9999 or before year 1 (-1s)"),
        ("published_at:[" + "9" * 5000 + " TO *]", 14, "published_at: cannot read '999999999999999999999999999999...' "
         "(5000 characters) as a date: use a date (2026-12-04, 2026-12-04T10:30:00Z) or now with math "
         "(now-15m, now-1h, now-7d/d)"),
        ("is_story:yes", 10, "is_story is true or false, not 'yes'"),
        ("published_at:2026*", 14, "wildcards don't apply to published_at (use a range or *)"),
        ("source.id:*ters", 11, "leading wildcard in '*ters' is not allowed"),
        ("a]", 2, "unbalanced ] (a range is field:[a TO b])"),
        ("*:war", 2, "*: goes with * only (*:* matches everything)"),
    ],
)
def test_bad_field_queries_say_what_is_wrong(query: str, position: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert (caught.value.position, caught.value.reason) == (position, reason)


# --------------------------------------------------------------- date math

@pytest.mark.parametrize(
    ("bound", "down", "up"),
    [
        ("2026-12-04", "2026-12-04T00:00:00", "2026-12-04T23:59:59.999"),
        ("2026-12-04T10", "2026-12-04T10:00:00", "2026-12-04T10:59:59.999"),
        ("2026-12-04T10:30", "2026-12-04T10:30:00", "2026-12-04T10:30:59.999"),
        ("2026-12-04T10:30:15Z", "2026-12-04T10:30:15", "2026-12-04T10:30:15.999"),
        ("2026-12-04T10:30:15.25Z", "2026-12-04T10:30:15.250", "2026-12-04T10:30:15.250"),
        ("2026-12-04T10:30:00+02:00", "2026-12-04T08:30:00", "2026-12-04T08:30:00.999"),
        ("2026-12-04||+1d", "2026-12-05T00:00:00", "2026-12-05T00:00:00"),  # an anchor is not rounded up
        ("2026-12-04T10:30||/d", "2026-12-04T00:00:00", "2026-12-04T23:59:59.999"),
        ("2026-01-31||+1M", "2026-02-28T00:00:00", "2026-02-28T00:00:00"),  # the day is clamped
        ("2024-02-29||+1y", "2025-02-28T00:00:00", "2025-02-28T00:00:00"),
        ("2026-12-04T10:30||/w", "2026-11-30T00:00:00", "2026-12-06T23:59:59.999"),  # weeks start on Monday
        ("2026-12-04T10:30||-1M/M", "2026-11-01T00:00:00", "2026-11-30T23:59:59.999"),
        ("2026-12-04T10:30||/y", "2026-01-01T00:00:00", "2026-12-31T23:59:59.999"),
        ("2026-12-04T10:30:45||-15m/m", "2026-12-04T10:15:00", "2026-12-04T10:15:59.999"),
    ],
)
def test_date_bounds_round_as_elasticsearch_rounds(bound: str, down: str, up: str) -> None:
    parsed = parse_bound(bound)
    assert (parsed.millis(False, 0), parsed.millis(True, 0)) == (_ms(down), _ms(up))


def test_now_is_the_time_of_evaluation() -> None:
    now = _ms("2026-12-04T10:30:45.500")
    assert parse_bound("now").millis(True, now) == now
    assert parse_bound("now-1h").millis(False, now) == _ms("2026-12-04T09:30:45.500")
    assert parse_bound("now-7d/d").millis(False, now) == _ms("2026-11-27T00:00:00")
    assert parse_bound("now/d").millis(True, now) == _ms("2026-12-04T23:59:59.999")
    assert parse_bound("now+1d-2h").millis(False, now) == _ms("2026-12-05T08:30:45.500")
    with pytest.raises(DateMathError):
        parse_bound("now/d-1h")  # the rounding comes last


def test_a_relative_range_moves_with_the_clock() -> None:
    compiled = compile_query("published_at:[now-1h TO now]")
    fresh = {"id": "a", "title": "t", "body": "", "published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    stale = {**fresh, "published_at": "2020-01-01T00:00:00Z"}
    assert compiled.matches(prepare(fresh)) and not compiled.matches(prepare(stale))


# ------------------------------------------------------------------ matching

ITEM: dict[str, Any] = {
    "id": "boj-2", "source": {"id": "nikkei", "name": "Nikkei Asia"}, "title": "Bank of Japan holds rates",
    "body": "The yen fell.", "published_at": "2026-12-04T09:15:00.123456Z", "language": "en",
    "entities": [{"name": "Bank of Japan", "type": "ORG"}], "dedupe": {"status": "update", "of": "boj-1"},
    "revision": 2, "alerts": [{"rule": "rates"}],
}


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("entity:Japan", False),  # issue 17: matched "Bank of Japan" before
        ('entity:"bank of japan"', True),
        ("entities.name:bank*", True),
        ("search.entity:japan", True),
        ("source.id:nikkei", True),
        ("source.id:Nikkei", False),
        ("source.name:nikkei", False),
        ('source.name:"nikkei asia"', True),
        ("story_id:boj-1 AND is_story:false", True),
        ("is_story:true", False),
        ("dedupe.status:update AND revision:2", True),
        ("alerts.rule:rates", True),
        ("published_at:[2026-12-04T09:15:00.123Z TO 2026-12-04T09:15:00.123Z]", True),  # kept to the millisecond
        ("published_at:{2026-12-04T09:15:00.123Z TO *]", False),
        ("updated_at:* OR fetched_at:*", False),
        ("language:*", True),
        ("*", True),
    ],
)
def test_index_fields_match_a_stored_item(query: str, matches: bool) -> None:
    assert compile_query(query).matches(prepare(ITEM)) is matches


# ------------------------------------------------------------------ rules

def test_rules_may_use_fields_known_when_they_run() -> None:
    raws = [json.loads(line) for line in RAW.read_text("utf-8").splitlines()[:3]]
    rules = RuleSet.from_rules([
        Rule(id="from-wire", query="source.id:wire AND warrant"),
        Rule(id="named", query='source.name:"wire"'),
        Rule(id="recent", query="published_at:[2000-01-01 TO *] AND icc"),
    ])
    processor = Processor(rules, EntityTagger(), Deduper({}))
    matched = [sorted(a["rule"] for a in processor.process(raw).alerts) for raw in raws]
    assert matched == [["from-wire", "named", "recent"], ["recent"], ["recent"]]


@pytest.mark.parametrize("field", ["dedupe.status:new", "is_story:true", "story_id:x", "revision:2",
                                   "processed_at:*", "alerts.rule:x", "dedupe.of:x"])
def test_rules_refuse_fields_decided_after_they_run(field: str) -> None:
    name = field.partition(":")[0]
    with pytest.raises(ConfigError) as caught:
        RuleSet.from_rules([Rule(id="late", query=f"war AND {field}")])
    assert str(caught.value) == (
        f"rules[0] (late).query: at position 9: {name} is decided after rules run (by dedupe), "
        "so a rule cannot use it; search and backtest can"
    )
    assert compile_query(f"war AND {field}")  # the store's search and backtests take it
