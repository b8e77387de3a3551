"""Events across outlets (processors/events.py) and alerts once per item, story or event.

The fixture ``tests/fixtures/events/ten_outlets.jsonl`` holds ten outlets' own write-ups
of one event (a bridge collapse: shared names, numbers and a quote in different
sentences), a syndicated copy of the first (an aggregator, same text) and three
unrelated stories of the same day, one of them sharing the number 14.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.events import (
    BOOST,
    NUMBERS_DISAGREE,
    PRIOR_DOCS,
    EventClusterer,
    EventIndex,
    EventVerdict,
    event_features,
    event_key,
)
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet, load_rules
from wirewatch.search.analysis import tokenize

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "events"
ITEMS = [json.loads(line) for line in (FIX / "ten_outlets.jsonl").read_text("utf-8").splitlines()]
TEN = [i["id"] for i in ITEMS if i["id"].endswith("-bridge") and i["id"] != "aggregator-bridge"]
OTHERS = [i["id"] for i in ITEMS if "-other-" in i["id"]]
T0 = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)


def rules(tmp_path: Path, per: str | None, extra: str = "") -> RuleSet:
    path = tmp_path / f"rules-{per}.yaml"
    per_line = f"    per: {per}\n" if per else ""
    path.write_text(f'rules:\n  - id: bridge\n    query: "Mülheim OR bridge"\n{per_line}{extra}', "utf-8")
    return load_rules(path)


def run(processor: Processor, items: list[dict[str, Any]], now: datetime = T0) -> list[Any]:
    return [processor.process(json.loads(json.dumps(item)), now) for item in items]


def test_ten_outlets_are_one_event_and_three_unrelated_stories_three_others(tmp_path: Path) -> None:
    results = run(Processor(rules(tmp_path, None), EntityTagger([]), Deduper({})), ITEMS)
    event = {r.item["id"]: r.item["event_id"] for r in results}
    assert len(TEN) == 10 and len(OTHERS) == 3
    assert {event[i] for i in TEN} == {"wire-bridge"}  # named after the event's first story
    assert event["aggregator-bridge"] == "wire-bridge"  # a syndicated copy: its story's event
    assert [event[i] for i in OTHERS] == OTHERS
    for result in results:
        validate("processed_item", result.item)
        for alert in result.alerts:
            validate("alert", alert)


def test_every_arrival_order_resolves_to_one_event() -> None:
    """Feeds arrive in any order. In some orders a write-up sharing little with the items before
    it opens an event of its own until a bridging item merges the two (README "Events": 35 of
    200 orders); resolved through the merges, every order gives the ten outlets one event."""
    merged_orders = 0
    for seed in range(200):
        order = list(ITEMS)
        random.Random(seed).shuffle(order)
        processor = Processor(RuleSet.from_rules([]), EntityTagger([]), Deduper({}))
        items = [processor.process(dict(raw), T0 + timedelta(seconds=n)).item for n, raw in enumerate(order)]
        resolved = {item["id"]: processor.events.resolve(item["event_id"]) for item in items}
        assert len({resolved[i] for i in [*TEN, "aggregator-bridge"]}) == 1, seed
        assert len({resolved[i] for i in [TEN[0], *OTHERS]}) == 4, seed
        merged_orders += any(item.get("event_merged") for item in items)
    assert merged_orders == 35


@pytest.mark.parametrize(("per", "expected"), [
    ("event", ["bridge:event:wire-bridge"]),
    (None, [f"bridge:{i}" for i in TEN]),  # per story, the default: the aggregator's copy folds in
    ("item", [f"bridge:item:{i}" for i in [*TEN[:3], "aggregator-bridge", *TEN[3:]]]),
])
def test_alert_ids_are_once_per_event_story_or_item(tmp_path: Path, per: str | None, expected: list[str]) -> None:
    results = run(Processor(rules(tmp_path, per), EntityTagger([]), Deduper({})), ITEMS)
    ids = list(dict.fromkeys(a["id"] for r in results for a in r.alerts))  # distinct, in order
    assert ids == expected
    assert {a["per"] for r in results for a in r.alerts} == {per or "story"}
    assert {a["event_id"] for r in results for a in r.alerts} == {"wire-bridge"}


def test_re_alert_opens_a_new_window_after_the_duration_and_survives_a_restart(tmp_path: Path) -> None:
    store: dict[str, Any] = {}
    ruleset = rules(tmp_path, "event", "    re_alert: 6h\n")
    first = run(Processor(ruleset, EntityTagger([]), Deduper(store)), ITEMS[:3])
    assert {a["id"] for r in first for a in r.alerts} == {"bridge:event:wire-bridge:w20260606T100000Z"}
    restarted = Processor(ruleset, EntityTagger([]), Deduper(store))  # the memory is all that survives
    within = run(restarted, ITEMS[4:5], T0 + timedelta(hours=5, minutes=59))
    assert [a["id"] for a in within[0].alerts] == ["bridge:event:wire-bridge:w20260606T100000Z"]
    after = run(restarted, ITEMS[5:6], T0 + timedelta(hours=6, minutes=1))
    assert [a["id"] for a in after[0].alerts] == ["bridge:event:wire-bridge:w20260606T160100Z"]
    assert after[0].item["event_id"] == "wire-bridge"  # the event itself did not change


def test_on_update_of_a_story_in_an_event_names_the_story_and_revision(tmp_path: Path) -> None:
    processor = Processor(rules(tmp_path, "event", "    on_update: true\n"), EntityTagger([]), Deduper({}))
    run(processor, ITEMS[:2])
    revised = dict(ITEMS[1], body=ITEMS[1]["body"] + " Two of the injured are in a serious condition.")
    [result] = run(processor, [revised], T0 + timedelta(minutes=30))
    assert result.item["dedupe"]["status"] == "update"
    assert [a["id"] for a in result.alerts] == ["bridge:event:wire-bridge:daily-bridge:r2"]


def test_a_bridging_item_merges_two_events_into_the_older_and_says_so() -> None:
    processor = Processor(RuleSet.from_rules([]), EntityTagger([]), Deduper({}))
    a = {"id": "a", "source": {"id": "s"}, "url": "https://s.example/a", "published_at": "2026-06-06T10:00:00Z",
         "title": "Zorvath reactor shutdown at Kellminster", "body": "Operators shut reactor 3 at Kellminster."}
    b = {"id": "b", "source": {"id": "t"}, "url": "https://t.example/b", "published_at": "2026-06-06T10:05:00Z",
         "title": "Quillan valve fault found", "body": "Inspectors found a Quillan valve fault, report 7741 says."}
    bridge = {"id": "c", "source": {"id": "u"}, "url": "https://u.example/c", "published_at": "2026-06-06T10:10:00Z",
              "title": "Kellminster's Zorvath reactor halted; Quillan valve blamed",
              "body": "Operators shut the Zorvath reactor at Kellminster over a faulty Quillan valve, named in "
                      "inspection report 7741."}
    out = run(processor, [a, b, bridge])
    assert [r.item["event_id"] for r in out] == ["a", "b", "a"]
    assert out[2].item["event_merged"] == ["b"]
    assert processor.events.resolve("b") == "a"
    assert "event_merged" not in out[0].item and "event_merged" not in out[1].item


def test_features_work_in_any_script() -> None:
    zh = event_features(tokenize("习近平抵达莫斯科"), [], ["习近平抵达莫斯科"], [], "zh")
    assert "~习近" in zh and "~莫斯" in zh  # Han characters in pairs
    ru = event_features(tokenize("Си Цзиньпин прибыл в Москву"), tokenize("12,5 млн «мы друзья навсегда»"),
                        ["«мы друзья навсегда»"], [], "ru")
    assert "#12,5" in ru and "цзиньп" in ru and '"друзья навсегда' in ru  # number, stem, quoted pair
    assert "в" not in ru and "прибыл" not in ru  # frequent Russian words (jusText's list has both)


def test_ascii_quotes_are_features_and_text_without_quotes_has_none() -> None:
    quoted = 'Mayor says "bridge will reopen" by May 14'
    assert event_features(tokenize(quoted), [], [quoted], [], "en") == [
        '"bridge reopen', "#14", "bridge", "mayor", "reopen", "says"]  # "will": a frequent word
    plain = "Mayor says bridge will reopen by May 14"
    assert event_features(tokenize(plain), [], [plain], [], "en") == ["#14", "bridge", "mayor", "reopen", "says"]


def test_a_quote_is_6_to_400_characters_between_marks_and_a_mark_that_closes_nothing_opens() -> None:
    text = 'a "short" b "mayor vows bridge rebuild" c "' + "x" * 401 + '" «rescue crews»'
    # "short": 5 characters; the x's: 401; the '"' after them closes nothing, so it opens (then 1 character)
    assert event_features([], [], [text], [], "en") == [
        '"bridge rebuild', '"mayor vows', '"rescue crews', '"vows bridge']


def test_single_letters_are_dropped_and_only_han_makes_pairs() -> None:
    latin = "Plan B for the A40 bridge"
    assert event_features(tokenize(latin), [], [latin], [], "en") == ["#a40", "bridge", "plan"]
    mixed = "东京 bridge 大桥 x"  # two runs of Han: a pair each, none across the Latin word
    assert event_features(tokenize(mixed), [], [mixed], [], "ja") == ["bridge", "~东京", "~大桥"]


def weight(rows: list[list[str]], feature: str) -> float:
    """A feature's weight as the module docstring defines it: IDF among ``rows``, times its boost."""
    df = sum(feature in features for features in rows)
    return (math.log(len(rows) + PRIOR_DOCS) - math.log(1 + min(df, 4096))) * BOOST.get(feature[0], 1.0)


def test_similarities_are_the_documented_weighted_dice() -> None:
    rows = [["#14", "bridge", "ruhr"], ["#12", "bridge", "mülheim"], ["bridge", "collapse", "ruhr"],
            ["dam", "flood"]]
    index = EventIndex()
    totals = []  # each row's weight, as its memory record keeps it
    for n, features in enumerate(rows):
        weights = index.weights_of(features)
        assert weights == {f: pytest.approx(weight(rows[:n], f)) for f in features}
        totals.append(sum(weights.values()))
        index.add(f"e{n}", features, totals[-1], float(n))
    item = ['"bridge fell', "#12", "bridge", "collapse", "ruhr"]
    weights = index.weights_of(item)
    assert weights == {f: pytest.approx(weight(rows, f)) for f in item}
    total = sum(weights.values())

    def dice(row: int) -> float:
        shared = sum(weights[f] for f in item if f in rows[row])
        return 2 * shared / (total + totals[row])

    weight_of_item, alike = index.alike(item, 0.0)
    assert weight_of_item == total  # summed in the features' order: the memory's "w", bit for bit
    assert [row for _, row in alike] == [2, 1, 0]  # best first; "dam, flood" shares nothing
    assert dict((row, s) for s, row in alike) == {  # row 0 states 14, the item 12: halved
        2: pytest.approx(dice(2)), 1: pytest.approx(dice(1)), 0: pytest.approx(dice(0) * NUMBERS_DISAGREE)}
    assert index.alike(item, 1.5)[1][-1][1] == 2  # rows 0, 1 too old


def test_the_top_rows_are_those_sharing_most_ties_in_feature_then_row_order() -> None:
    index = EventIndex()
    for n, features in enumerate([["c", "x0"], ["b", "x1"], ["a", "x2"], ["a", "x3"], ["b", "x4"], ["c", "x5"],
                                  ["a", "b", "x6"]]):
        index.add(f"e{n}", features, 1.0, 0.0)
    _, alike = index.alike(["a", "b", "c"], 0.0)
    # row 6 shares two; of the rows sharing one, postings a, b, c in order: rows 2, 3 (a) and 1 (b)
    assert sorted(row for _, row in alike) == [1, 2, 3, 6]


def test_document_frequencies_beyond_the_log_table_count_as_its_last() -> None:
    index = EventIndex()
    for n in range(5000):
        index.add(f"e{n}", ["common"], 1.0, 0.0)
    weights = index.weights_of(["common", "rare"])
    assert weights == {"common": pytest.approx(math.log(5050) - math.log(4097)), "rare": pytest.approx(math.log(5050))}


#: Two bridge write-ups, two dam write-ups, an item bridging two events of its own, an unrelated one.
ARRIVALS = [
    ("wire", ["#14", "bridge", "collapse", "cologne", "rhine"]),
    ("dam-1", ["dam", "flood", "valley", "warning"]),
    ("paper", ["#14", "bridge", "collapse", "cologne", "mayor"]),
    ("alpha", ["alpha", "beta", "delta", "gamma"]),
    ("epsilon", ["epsilon", "eta", "theta", "zeta"]),
    ("dam-2", ["dam", "flood", "valley", "village"]),
    ("bridging", ["alpha", "beta", "epsilon", "eta", "gamma", "zeta"]),
    ("weather", ["rain", "sunday", "wind"]),
]


def test_the_index_rebuilt_from_the_memory_gives_the_same_verdicts_and_records() -> None:
    kept, rebuilt = EventClusterer({}), EventClusterer({})
    verdicts = []
    for n, (item_id, features) in enumerate(ARRIVALS):
        rebuilt.reset_index()  # as after a rebalance: the next assign rebuilds it from the v: records
        verdict = kept.assign(item_id, item_id, "new", features, 1000.0 + n)
        assert rebuilt.assign(item_id, item_id, "new", list(features), 1000.0 + n) == verdict
        verdicts.append(verdict)
    assert verdicts == [
        EventVerdict("wire"), EventVerdict("dam-1"), EventVerdict("wire"), EventVerdict("alpha"),
        EventVerdict("epsilon"), EventVerdict("dam-1"), EventVerdict("alpha", ["epsilon"]), EventVerdict("weather"),
    ]
    assert rebuilt.store == kept.store  # the memory records ("w" included) are the same, bit for bit
    assert len(rebuilt.index) == len(ARRIVALS) and rebuilt.resolve("epsilon") == "alpha"
    for key in [key for key, value in kept.store.items() if value["t"] < 1005.0]:  # dedupe's purge
        del kept.store[key]
    kept.compact(1005.0)
    assert kept.index.events == ["dam-1", "alpha", "weather"]  # dam-2, bridging, weather: by their events
    bridge = ["#14", "bridge", "collapse", "cologne", "rhine"]
    assert kept.assign("late", "late", "new", bridge, 1010.0) == EventVerdict("late")  # wire, paper: purged


def test_event_key_falls_back_to_the_story() -> None:
    assert event_key({"story_id": "s", "event_id": "e"}) == "e"
    assert event_key({"story_id": "s"}) == "s"


@pytest.mark.parametrize(("line", "error"), [
    ("per: outlet", "rules[0] (bridge).per: must be one of item, story, event (got 'outlet')"),
    ("re_alert: soon", "rules[0] (bridge).re_alert: not a duration: 'soon' (use e.g. 30s, 10m, 72h, 7d)"),
])
def test_a_bad_per_or_re_alert_is_one_clear_line(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - id: bridge\n    query: bridge\n    {line}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}: {error}"
