"""A detected language is searchable: rules, Elasticsearch (query string and the keyword field
Kibana filters on) and SQLite find the same items by ``language:``.

Items declare no language (except one, declared ``en-US``); the processor detects it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import Rule, RuleSet
from wirewatch.sinks.sqlite import SqliteStore

pytestmark = pytest.mark.elastic

RAWS = [
    ("ru-1", "Центробанк повысил ключевую ставку до 21%",
     "Банк России повысил ключевую ставку на два процентных пункта. Регулятор объяснил решение ускорением инфляции.", None),
    ("uk-1", "Нацбанк залишив облікову ставку без змін",
     "Національний банк України зберіг облікову ставку на рівні 13 відсотків. Регулятор пояснив, що інфляція сповільнюється.", None),
    ("ru-2", "В Москве ожидается сильный снегопад",
     "Синоптики предупредили о сильном снегопаде в Москве в ближайшие сутки.", None),
    ("en-1", "Russia's central bank raises key rate to 21%",
     "The Bank of Russia raised its key rate by two percentage points, citing faster inflation.", "en-US"),
    ("zh-1", "中国人民银行宣布降准0.5个百分点",
     "中国人民银行周五宣布，下调金融机构存款准备金率0.5个百分点。", None),
]
RULE = "language:ru AND ставку"


def processed() -> tuple[list[dict[str, Any]], list[str]]:
    """The processed items, and the ids the rule alerted on in the stream."""
    processor = Processor(RuleSet.from_rules([Rule(id="ru-rates", query=RULE)]), EntityTagger(), Deduper({}))
    items, alerted = [], []
    for n, (item_id, title, body, declared) in enumerate(RAWS):
        raw = {"id": item_id, "source": {"id": "wire", "name": "Wire"}, "url": f"https://wire.example/{n}",
               "title": title, "body": body, "published_at": f"2026-12-0{n + 1}T10:00:00Z"}
        if declared:
            raw["language"] = declared
        result = processor.process(raw)
        items.append(result.item)
        alerted += [a["item_id"] for a in result.alerts]
    return items, alerted



async def test_language_rule_finds_the_detected_russian_item_in_stream_elasticsearch_and_sqlite(
    es_store: Any, es_client: Any, tmp_path: Path
) -> None:
    items, alerted = processed()
    assert [(i["language"], i["language_source"]) for i in items] == [
        ("ru", "detected"), ("uk", "detected"), ("ru", "detected"), ("en", "feed"), ("zh", "detected")]
    assert alerted == ["ru-1"]

    assert [o.status for o in await es_store.index_items(items)] == ["indexed"] * len(items)
    await es_store.refresh()
    sqlite = SqliteStore(tmp_path)
    assert [o.status for o in await sqlite.index_items(items)] == ["indexed"] * len(items)
    try:
        for query, expected in [(RULE, {"ru-1"}), ("language:ru", {"ru-1", "ru-2"}), ("language:uk", {"uk-1"}),
                                ("language:en", {"en-1"}), ("language:zh", {"zh-1"}), ("language:(ru OR uk) AND ставку", {"ru-1", "uk-1"})]:
            assert {h.id for h in await es_store.search(query, limit=50)} == expected, query
            assert {h.id for h in await sqlite.search(query, limit=50)} == expected, query
    finally:
        await sqlite.close()

    # what a Kibana filter or KQL `language : "ru"` sends: a term query on the keyword field
    for field, value, expected in [("language", "ru", {"ru-1", "ru-2"}), ("language_source", "feed", {"en-1"})]:
        found = await es_client.search(index=es_store.items_alias, query={"term": {field: value}}, size=50)
        assert {h["_id"] for h in found["hits"]["hits"]} == expected, (field, value)
    scored = await es_client.search(index=es_store.items_alias, query={"range": {"language_score": {"gte": 0.25}}}, size=50)
    assert {h["_id"] for h in scored["hits"]["hits"]} == {"ru-1", "uk-1", "ru-2", "zh-1"}
