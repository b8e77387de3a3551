"""The stage core: messages in; processed items, alerts and dead letters out, keyed; rules reload."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from wirewatch.bus.base import Message
from wirewatch.core import metrics
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet, load_rules
from wirewatch.processors.stage import BATCH, RulesWatcher, Stage

RAW = {
    "id": "wire:1", "source": {"id": "wire", "name": "Wire"}, "url": "https://news.example/1",
    "title": "Court rules on the grain corridor", "body": "The court ruled on the corridor.",
    "published_at": "2026-11-27T10:00:00Z",
}


def _message(raw: bytes, offset: int = 0, key: str | None = "wire", timestamp_ms: int | None = None) -> Message:
    return Message("wirewatch.raw", 0, offset, key, None, raw, timestamp_ms)


def _processor(rules: RuleSet | None = None) -> Processor:
    return Processor(rules or RuleSet.from_rules([]), EntityTagger(catalogue=False), Deduper({}))


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_bad_messages_become_dead_letters_keyed_like_their_input_with_their_reason() -> None:
    stage = Stage(_processor())
    before = metrics.DEAD_LETTERS.labels("processor")._value.get()
    out = stage.process([_message(b"{not json", 0), _message(b'{"id": "x"}', 1, key=None)])
    assert out.results == [] and out.processed == [] and out.alerts == []
    assert [key for key, _record in out.dead_letters] == ["wire", None]
    first, second = (record for _key, record in out.dead_letters)
    assert first["reason"].startswith("invalid JSON: ")
    assert second["reason"] == 'not a valid raw_item: "source" is a required property'
    assert (first["stage"], first["topic"], first["partition"], first["offset"], first["payload"]) == (
        "processor", "wirewatch.raw", 0, 0, "{not json")
    for _key, record in out.dead_letters:
        validate("dead_letter", record)
    assert metrics.DEAD_LETTERS.labels("processor")._value.get() == before + 2


def test_processed_items_are_keyed_by_story_and_alerts_by_rule(tmp_path: Path) -> None:
    rules = load_rules(_rules(tmp_path, "rules:\n  - {id: corridor, query: 'grain corridor', notify: [desk]}\n"))
    stage = Stage(_processor(rules))
    mirror = dict(RAW, id="mirror:1", source={"id": "mirror"}, url="https://mirror.example/1")
    out = stage.process([_message(json.dumps(RAW).encode(), 0), _message(json.dumps(mirror).encode(), 1, "mirror")])
    assert [(key, item["id"], item["dedupe"]["status"]) for key, item in out.processed] == [
        ("wire:1", "wire:1", "new"), ("wire:1", "mirror:1", "duplicate")]
    assert [(key, alert["id"]) for key, alert in out.alerts] == [("corridor", "corridor:wire:1"),
                                                                  ("corridor", "corridor:wire:1")]
    assert out.dead_letters == []


def test_enrich_then_finish_equals_process_in_any_batch_split() -> None:
    raws = [dict(RAW, id=f"wire:{n}", url=f"https://news.example/{n}", title=f"Story {n} on the corridor")
            for n in range(BATCH * 2 + 3)]
    messages = [_message(json.dumps(raw).encode(), n) for n, raw in enumerate(raws)]
    whole = Stage(_processor()).process(messages)
    split = Stage(_processor())
    halves = [split.enrich(messages[:5]), split.enrich(messages[5:])]
    parts = [split.finish(received.enriched) for received in halves]
    strip = lambda pairs: [(k, {f: v for f, v in item.items() if f != "processed_at"}) for k, item in pairs]  # noqa: E731
    assert strip(whole.processed) == strip([pair for part in parts for pair in part.processed])


def test_latency_is_measured_from_the_message_timestamp() -> None:
    histogram = metrics.PROCESS_SECONDS
    count_before, sum_before = _histogram(histogram)
    stamp = 1_000_000_000_000  # 2001: the item waited ~25 years
    Stage(_processor()).process([_message(json.dumps(RAW).encode(), timestamp_ms=stamp)])
    count_after, sum_after = _histogram(histogram)
    assert count_after == count_before + 1
    assert sum_after - sum_before > 20 * 365 * 86400


def _histogram(histogram: Any) -> tuple[float, float]:
    samples = {s.name: s.value for metric in histogram.collect() for s in metric.samples if not s.labels.get("le")}
    return samples["wirewatch_processor_latency_seconds_count"], samples["wirewatch_processor_latency_seconds_sum"]


def test_a_bug_in_the_core_is_not_hidden_as_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    processor = _processor()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(processor, "enrich_batch", broken)
    with pytest.raises(KeyError):
        Stage(processor).process([_message(json.dumps(RAW).encode())])


def test_rules_reload_on_change_and_a_broken_edit_keeps_the_old_rules(tmp_path: Path) -> None:
    path = _rules(tmp_path, "rules:\n  - {id: a, query: court}\n")
    processor = _processor(load_rules(path))
    refused: list[str] = []

    def no_b(rules: RuleSet) -> None:
        from wirewatch.core.errors import ConfigError

        if any(rule.id == "b" for rule in rules.rules):
            refused.append("b")
            raise ConfigError(str(path), "rule b is not allowed here")

    watcher = RulesWatcher(path, processor, every=0.0, check=no_b)
    assert not watcher.check()  # unchanged

    def rewrite(text: str, tick: int) -> None:
        path.write_text(text)
        os.utime(path, ns=(tick * 10**9, tick * 10**9))

    rewrite("rules:\n  - {id: c, query: corridor}\n", 1)
    assert watcher.check()
    assert [rule.id for rule in processor.rules.rules] == ["c"]
    rewrite("rules:\n  - {id: c, query: '(unbalanced'}\n", 2)
    assert not watcher.check()
    rewrite("rules:\n  - {id: b, query: court}\n", 3)
    assert not watcher.check()
    assert refused == ["b"]
    assert [rule.id for rule in processor.rules.rules] == ["c"]
