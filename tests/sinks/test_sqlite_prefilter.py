"""The SQLite store reads only the rows a query's required columns allow (time, story, verdict)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import wirewatch.sinks.sqlite as sqlite_module
from wirewatch.core.times import rfc3339
from wirewatch.search.query import parse
from wirewatch.sinks.sqlite import SqliteStore, column_prefilter


def _items(base: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` stories one hour apart, the newest an hour old; every third a duplicate."""
    now = datetime.now(UTC)
    return [
        {**base, "id": f"x:{k}", "story_id": f"x:{k - k % 3}",
         "dedupe": {"status": "duplicate", "of": f"x:{k - k % 3}"} if k % 3 else {"status": "new", "of": None},
         "published_at": rfc3339(now - timedelta(hours=k + 1))}
        for k in range(n)
    ]


@pytest.mark.parametrize(
    ("query", "read", "hits"),
    [
        ("published_at:[now-330m TO now]", 5, 5),  # x:0 .. x:4
        ('story_id:"x:3"', 3, 3),
        ('putin AND story_id:"x:3" AND is_story:false', 2, 2),
        ("dedupe.status:new AND published_at:[now-630m TO now]", 4, 4),
        ("published_at:[now-330m TO now] OR putin", 30, 30),  # optional: no narrowing
    ],
)
def test_required_columns_narrow_the_rows_the_matcher_reads(
    query: str, read: int, hits: int, tmp_path: Path, processed_items: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SqliteStore(tmp_path)
    store.index_items_sync(_items(processed_items[0], 30))
    calls: list[str] = []
    decide = sqlite_module.matches

    def counted(compiled: Any, doc: dict[str, Any]) -> bool:
        calls.append(doc["id"])
        return decide(compiled, doc)

    monkeypatch.setattr(sqlite_module, "matches", counted)
    assert len(store.search_sync(query, limit=100)) == hits
    assert len(calls) == read


def test_only_required_clauses_become_conditions() -> None:
    assert column_prefilter(parse("a OR story_id:x")) == ([], [])
    assert column_prefilter(parse("-story_id:x")) == ([], [])
    assert column_prefilter(parse("war AND (story_id:x AND is_story:true)")) == (
        ["items.story_id = ?", "items.is_story = ?"], ["x", 1])
    where, params = column_prefilter(parse("published_at:{2025-11-02 TO 2025-11-03}"))
    # > end of 2025-11-02, < start of 2025-11-03, each widened by a millisecond
    assert (where, params) == (["items.published_ms >= ?", "items.published_ms <= ?"], [1762127999998, 1762128000001])
