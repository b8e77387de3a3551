"""The embedded processor stage: bad input goes to the dead-letter topic, a bug does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wirewatch.bus.base import Message
from wirewatch.core.config import Settings
from wirewatch.core.sqlite import Database
from wirewatch.embedded.runner import ProcessorStage, Stats
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet


def _stage(tmp_path: Path, processor: Processor) -> ProcessorStage:
    db = Database(tmp_path / "stage.db")
    return ProcessorStage(processor, None, None, db, Settings(), Stats(), [])  # type: ignore[arg-type]


def _message(value: Any, offset: int = 0) -> Message:
    return Message("wirewatch.raw", 0, offset, "k", value, b"{}")


def test_invalid_items_become_dead_letters_with_their_reason(tmp_path: Path) -> None:
    stage = _stage(tmp_path, Processor(RuleSet.from_rules([]), EntityTagger(catalogue=False), Deduper({})))
    results, out = stage._outputs([_message(None, 0), _message({"id": "x"}, 1)])
    assert results == []
    assert [topic for topic, _key, _value in out] == ["wirewatch.dead-letter", "wirewatch.dead-letter"]
    reasons = [value["reason"] for _topic, _key, value in out]
    assert reasons[0] == "not valid JSON"
    assert reasons[1] == 'not a valid raw_item: "source" is a required property'


def test_a_bug_in_the_core_is_not_hidden_in_the_dead_letter_topic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    processor = Processor(RuleSet.from_rules([]), EntityTagger(catalogue=False), Deduper({}))

    def broken(raw: Any, now: Any = None) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(processor, "process", broken)
    with pytest.raises(KeyError):
        _stage(tmp_path, processor)._outputs([_message({"id": "x"})])
