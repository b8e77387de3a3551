"""Events across outlets (processors/events.py) and alerts once per item, story or event.

The fixture ``tests/fixtures/events/ten_outlets.jsonl`` holds ten outlets' own write-ups
of one event (a bridge collapse: shared names, numbers and a quote in different
sentences), a syndicated copy of the first (an aggregator, same text) and three
unrelated stories of the same day, one of them sharing the number 14.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.events import event_features, event_key
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
