"""SQLite FTS5 search gives exactly Elasticsearch's hits, in the same order, on the same items.

The same processed items are indexed by the production ElasticsearchStore on the
real node and by SqliteStore; every query below must return the same ids.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import RuleSet
from wirewatch.sinks.sqlite import SqliteStore

from .feeds import FIXTURES

QUERIES = [
    "grain",
    '"grain corridor"',
    '"arrest warrant" AND (Putin OR ICC)',
    '"Xi Jinping"',                      # matches "Xi Jinping's" (possessive removed)
    "zelensk*",
    "kharkiv AND NOT explosion",
    "title:strike",
    'source:"Northgate Daily"',
    "entity:Ukraine",
    "tags:markets",
    "language:de",
    "covid-19",
    '"power station"~2',
    "+rates -japan",
    "café",                               # ASCII folding both ways
    "cafe",
    "o'neill",
    "r?tterdam",
    "grain AND Poland OR Tokyo",          # Lucene's operator quirk
    "NOT strike",                         # only MUST_NOT: everything else
    "(Kyiv OR Kiev) AND sirens",
    "2026",
    "москва",
    "title:(strike OR deal)",
    "hamburg*",
    "station AND power AND -deal",
]


pytestmark = pytest.mark.elastic


def processed_items() -> list[dict[str, Any]]:
    processor = Processor(RuleSet.from_rules([]), EntityTagger(), Deduper({}))
    raws = [json.loads(line) for line in (FIXTURES / "parity_raw.jsonl").read_text("utf-8").splitlines()]
    return [processor.process(raw).item for raw in raws]



async def test_elastic_sqlite_parity(es_store: Any, tmp_path: Path) -> None:
    items = processed_items()
    assert [o.status for o in await es_store.index_items(items)] == ["indexed"] * len(items)
    await es_store.refresh()
    sqlite = SqliteStore(tmp_path)
    assert [o.status for o in await sqlite.index_items(items)] == ["indexed"] * len(items)

    nonempty = 0
    for query in QUERIES:
        expected = [h.id for h in await es_store.search(query, limit=50)]
        got = [h.id for h in await sqlite.search(query, limit=50)]
        assert got == expected, query
        nonempty += bool(expected)
        for kwargs in ({"stories_only": True, "limit": 3}, {"since": timedelta(days=10)}):
            expected = [h.id for h in await es_store.search(query, **kwargs)]
            assert [h.id for h in await sqlite.search(query, **kwargs)] == expected, (query, kwargs)
    assert nonempty >= len(QUERIES) - 1  # the queries really find things
    await sqlite.close()
