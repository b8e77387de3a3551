"""An item in each of the 14 languages goes through the processing core: searchable words,
its own script's rule fires, and the processed item validates against its schema."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import Rule, RuleSet
from wirewatch.search.analysis import search_fields

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "search" / "multilingual.jsonl"

#: One rule per language, written as a desk would, in the item's own script.
RULES = {
    "zh": '"习近平" AND 莫斯科',
    "ja": "ウクライナ AND 首相",
    "ko": '"정상회담"',
    "ar": '"شي جينبينغ" AND بوتين',
    "fa": "پوتین AND می‌گوید",
    "he": 'צה\\"ל',
    "hi": '"रेपो दर"',
    "th": "นายก*",
    "ru": "Зеленский AND ПВО",
    "uk": "Зеленськ* AND прем'єр",
    "el": "Μητσοτάκης",
    "tr": "erdogan AND istanbul*",
    "vi": '"pham minh chinh"',
    "en": '"xi jinping" AND moscow',
}


def raw_items() -> list[dict[str, Any]]:
    """One item per language: its first line is the title, the others the body."""
    lines: dict[str, list[str]] = defaultdict(list)
    for line in FIXTURE.read_text("utf-8").splitlines():
        row = json.loads(line)
        lines[row["lang"]].append(row["text"])
    return [
        {
            "id": f"{lang}-1", "source": {"id": f"desk-{lang}"}, "url": f"https://news.example/{lang}/1",
            "title": texts[0], "body": " ".join(texts[1:]), "language": lang,
            "published_at": "2026-12-04T10:00:00Z",
        }
        for lang, texts in lines.items() if lang in RULES
    ]


@pytest.fixture(scope="module")
def processor() -> Processor:
    rules = RuleSet.from_rules([Rule(id=lang, query=query) for lang, query in RULES.items()])
    return Processor(rules, EntityTagger(), Deduper({}))


def test_an_item_in_every_language_is_matched_by_its_rule_and_valid(processor: Processor) -> None:
    items = raw_items()
    assert sorted(item["language"] for item in items) == sorted(RULES)
    for raw in items:
        result = processor.process(raw)
        validate("processed_item", result.item)
        assert search_fields(result.item)["title"], raw["id"]
        assert [a["rule"] for a in result.alerts] == [raw["language"]], raw["id"]
        assert result.item["dedupe"]["status"] == "new", raw["id"]
