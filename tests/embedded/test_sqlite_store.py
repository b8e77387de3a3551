"""SqliteStore (ItemStore on SQLite FTS5) and SqliteKV (dedupe memory, poll state)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.sqlite import Database, SqliteKV
from wirewatch.search.query import QuerySyntaxError
from wirewatch.sinks.sqlite import SqliteStore, to_millis


def item(n: int, title: str, published_at: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": f"src:{n}", "source": {"id": "src", "name": "Source"}, "url": f"https://example.org/{n}",
        "title": title, "body": f"body of {title}", "published_at": published_at,
        "dedupe": {"status": "new", "of": None}, "story_id": f"src:{n}", "entities": [], "alerts": [],
    }
    doc.update(extra)
    return doc


def alert(alert_id: str, title: str) -> dict[str, Any]:
    return {
        "id": alert_id, "rule": "r", "item_id": "src:1", "story_id": "src:1", "dedupe_status": "new",
        "title": title, "url": "https://example.org/1", "source": {"id": "src"},
        "published_at": "2026-01-01T00:00:00Z", "matched_at": "2026-01-01T00:00:01.000Z",
    }


async def test_index_is_idempotent_newest_revision_wins_and_bad_documents_are_rejected(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    first = item(1, "Port strike", "2026-01-01T10:00:00Z")
    assert [o.status for o in await store.index_items([first])] == ["indexed"]
    assert [o.status for o in await store.index_items([first])] == ["stale"]  # a replay
    revised = dict(first, title="Port strike ends", revision=2)
    assert [o.status for o in await store.index_items([revised])] == ["indexed"]
    assert [o.status for o in await store.index_items([first])] == ["stale"]  # older revision
    broken = {"id": "src:bad", "title": "no fields"}
    outcome = (await store.index_items([broken]))[0]
    assert (outcome.id, outcome.status) == ("src:bad", "rejected")
    assert "processed_item" in (outcome.reason or "")
    assert await store.count() == 1
    assert [h.document["title"] for h in await store.search("strike")] == ["Port strike ends"]
    assert [h.id for h in await store.search("ends")] == ["src:1"]  # the old text left the FTS index
    await store.close()


async def test_search_is_newest_first_with_time_window_limit_and_stories(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    now = datetime.now(UTC)
    stamp = lambda hours: (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    await store.index_items([
        item(1, "Grain deal signed", stamp(50)),
        item(2, "Grain deal copy", stamp(2), dedupe={"status": "near_duplicate", "of": "src:1"}, story_id="src:1"),
        item(3, "Grain prices fall", stamp(1)),
        item(4, "Unrelated", stamp(0)),
    ])
    assert [h.id for h in await store.search("grain")] == ["src:3", "src:2", "src:1"]
    assert [h.id for h in await store.search("grain", limit=1)] == ["src:3"]
    assert [h.id for h in await store.search("grain", since=timedelta(hours=24))] == ["src:3", "src:2"]
    assert [h.id for h in await store.search("grain", until=now - timedelta(hours=1, minutes=30))] == [
        "src:2", "src:1",
    ]
    assert [h.id for h in await store.search("grain", stories_only=True)] == ["src:3", "src:1"]
    assert [h.id for h in await store.search("grain AND NOT copy")] == ["src:3", "src:1"]
    with pytest.raises(QuerySyntaxError):
        await store.search('"unbalanced')
    stories = store.stories()
    assert [(s["story_id"], [d["id"] for d in s["items"]]) for s in stories] == [
        ("src:4", ["src:4"]), ("src:3", ["src:3"]), ("src:1", ["src:1", "src:2"]),
    ]
    assert store.story_count() == 3
    await store.close()


async def test_alerts_are_keyed_by_id_the_first_kept_and_listed_in_arrival_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.index_alerts([alert("r:1", "one"), alert("r:2", "two")])
    # a later alert with the same id (the story's duplicate from another outlet) is not stored
    assert [o.status for o in await store.index_alerts([alert("r:1", "one again")])] == ["duplicate"]
    assert [(seq, a["id"], a["title"]) for seq, a in store.alerts_after(0)] == [
        (1, "r:1", "one"), (2, "r:2", "two"),
    ]
    assert [a["id"] for _, a in store.alerts_after(1)] == ["r:2"]
    assert store.alert_total() == 2
    await store.close()


def test_kv_persists_exact_values_and_rolls_back_with_its_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "kv.db")
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    kv = SqliteKV(db, "dedupe")
    other = SqliteKV(db, "poll-state")
    kv["a"] = {"s": "story", "sig": (1, 2, 3)}
    other["a"] = [1]
    with pytest.raises(RuntimeError), db.transaction():
        kv["b"] = 2
        raise RuntimeError("crash before commit")
    db.close()

    db = Database(tmp_path / "kv.db")
    kv = SqliteKV(db, "dedupe")
    assert dict(kv) == {"a": {"s": "story", "sig": (1, 2, 3)}}
    assert "b" not in kv and len(kv) == 1
    value = copy.deepcopy(kv["a"])
    del kv["a"]
    assert "a" not in kv and value["sig"] == (1, 2, 3)
    with pytest.raises(KeyError):
        del kv["a"]
    assert dict(SqliteKV(db, "poll-state")) == {"a": [1]}
    db.close()


def test_time_sort_key_ignores_precision() -> None:
    assert to_millis("2026-01-01T00:00:00Z") < to_millis("2026-01-01T00:00:00.5Z")
    assert to_millis("2026-01-01T00:00:00.123456789Z") == to_millis("2026-01-01T00:00:00.123Z")


def test_kv_reads_back_what_it_stored_and_items_reads_everything_at_once(tmp_path: Path) -> None:
    """The dedupe memory lives in SQLite only: values come back as stored, in one query for all."""
    db = Database(tmp_path / "kv.db")
    kv = SqliteKV(db, "dedupe")
    for n in range(50):
        kv[f"k{n:02d}"] = {"n": n}
    assert kv["k00"] == {"n": 0} and "k49" in kv and "k50" not in kv and len(kv) == 50
    del kv["k49"]
    assert "k49" not in kv
    kv["k49"] = {"n": 49}
    assert dict(kv.items()) == {f"k{n:02d}": {"n": n} for n in range(50)}
    db.close()


async def test_words_in_every_script_use_the_fts_prefilter_and_find_what_the_matcher_finds(tmp_path: Path) -> None:
    """Cyrillic, Han, Thai, Arabic, Devanagari... anchors narrow the scan through FTS5 (they used to
    scan every item) and never lose a hit; an emoji anchor, which FTS5 can't read, scans."""
    import json

    from wirewatch.search.analysis import tokenize
    from wirewatch.search.matcher import compile_query, prepare
    from wirewatch.sinks.sqlite import fts_prefilter

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "search" / "multilingual.jsonl"
    texts = [json.loads(line)["text"] for line in fixture.read_text("utf-8").splitlines() if line.strip()]
    docs = [item(n, text[:80], "2026-11-27T10:00:00Z", body=text) for n, text in enumerate(texts)]
    store = SqliteStore(tmp_path)
    store.index_items_sync(docs)
    queries: list[str] = []
    for text in texts:
        for token in sorted(set(tokenize(text)))[:6]:
            quoted = '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'
            queries.append(quoted)
            if len(token) > 2 and token[:2].isalpha():
                queries.append(token[:2] + "*")
    prefiltered = 0
    try:
        for query in queries:
            compiled = compile_query(query)
            expected = sorted(d["id"] for d in docs if compiled.matches(prepare(d)))
            found = sorted(hit.id for hit in await store.search(query, limit=1000))
            assert found == expected, query
            prefiltered += fts_prefilter(compiled) is not None
    finally:
        await store.close()
    assert prefiltered >= 0.95 * len(queries)
    assert fts_prefilter(compile_query('"зерновий коридор"')) == '"зерновий"'
    assert fts_prefilter(compile_query("зерн*")) == '"зерн"*'
    assert fts_prefilter(compile_query("ขอบคุณ")) == '"ขอบคุณ"'  # a Thai run is one token on both sides
    assert fts_prefilter(compile_query('"😀"')) is None
