"""The processing core: schema-valid output, alert ids, rule reload, batch == single."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor, validate_raw
from wirewatch.processors.rules import load_rules

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "processors"


def raw_items() -> list[dict[str, Any]]:
    out = []
    for line in (FIX / "raw_items.jsonl").read_text("utf-8").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "url" in obj:
            out.append(obj)
    return out


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger()


@pytest.fixture
def processor(tagger: EntityTagger) -> Processor:
    return Processor(load_rules(FIX / "rules.yaml"), tagger, Deduper({}))


def test_processed_items_and_alerts_validate_against_their_schemas(processor: Processor) -> None:
    results = [processor.process(raw) for raw in raw_items()]
    assert len(results) == 6
    for result in results:
        validate("processed_item", result.item)
        for alert in result.alerts:
            validate("alert", alert)
    assert [r.item["dedupe"]["status"] for r in results] == ["new", "near_duplicate", "duplicate", "new", "update", "new"]


def test_alert_ids_are_rule_and_story_plus_revision_for_updates(processor: Processor) -> None:
    results = [processor.process(raw) for raw in raw_items()]
    ids = [a["id"] for r in results for a in r.alerts]
    assert ids == [
        "icc-warrant:wire-1",
        "icc-warrant:wire-1",
        "icc-warrant:wire-1",
        "zelensky:live-1",
        "zelensky:live-1:r2",
    ]
    update_alert = results[4].alerts[0]
    assert (update_alert["revision"], update_alert["dedupe_status"]) == (2, "update")
    assert "Volodymyr Zelensky" in update_alert["entities"]


def test_each_item_lists_every_rule_it_matches(processor: Processor) -> None:
    first = processor.process(raw_items()[0]).item
    assert first["alerts"] == [{"rule": "icc-warrant", "notify": ["desk-slack"]}]
    assert first["story_id"] == "wire-1"


def test_reload_rules_applies_to_the_next_item(processor: Processor, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: kremlin\n    query: kremlin\n    notify: [x]\n")
    processor.reload_rules(load_rules(rules))
    other = raw_items()[-1]
    assert [a["rule"] for a in processor.process(other).alerts] == ["kremlin"]


def test_batch_gives_the_same_items_as_one_by_one(tagger: EntityTagger) -> None:
    rules = load_rules(FIX / "rules.yaml")
    one = Processor(rules, tagger, Deduper({}))
    single = [one.process(r).item for r in raw_items()]
    other = Processor(rules, tagger, Deduper({}))
    batch = [r.item for r in other.finish_batch(other.enrich_batch(raw_items()))]
    strip = lambda items: [{k: v for k, v in i.items() if k != "processed_at"} for i in items]  # noqa: E731
    assert strip(single) == strip(batch)


def test_invalid_raw_item_raises_schema_error_naming_the_field() -> None:
    with pytest.raises(SchemaError, match="published_at"):
        validate_raw({"id": "x", "source": {"id": "s"}, "url": "u", "title": "t", "body": "b"})
    with pytest.raises(SchemaError):
        validate_raw(["not", "an", "object"])


def test_alerts_carry_the_rule_throttle_for_the_notifier(tagger: EntityTagger, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {id: slow, query: 'court', notify: [desk], throttle: 10m}\n"
        "  - {id: fast, query: 'court', notify: [desk]}\n"
    )
    processor = Processor(load_rules(rules), tagger, Deduper({}))
    raw = {
        "id": "wire:1", "source": {"id": "wire"}, "url": "https://news.example/1",
        "title": "Court rules", "body": "The court ruled.", "published_at": "2026-11-27T10:00:00Z",
    }
    alerts = {a["rule"]: a for a in processor.process(raw).alerts}
    assert alerts["slow"]["throttle_seconds"] == 600
    assert "throttle_seconds" not in alerts["fast"]
    for record in alerts.values():
        validate("alert", record)
