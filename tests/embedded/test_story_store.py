"""The SQLite store's reads for the story page: a story's items in time order, every revision of
an item (the items table keeps only the newest), and the story's alerts with their deliveries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wirewatch.sinks.sqlite import EXCERPT_CHARS, SqliteStore


def item(item_id: str, published: str, *, story: str, status: str = "new", revision: int = 1,
         title: str = "Quake hits the coast", body: str = "A strong earthquake struck.",
         updated: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": item_id, "source": {"id": item_id.split(":")[0], "name": item_id.split(":")[0].title()},
        "url": f"https://{item_id.split(':')[0]}.example/{item_id.split(':')[1]}", "title": title, "body": body,
        "published_at": published, "revision": revision, "story_id": story,
        "dedupe": {"status": status, "of": None if story == item_id else story}, "entities": [], "alerts": [],
    }
    if updated:
        doc["updated_at"] = updated
    return doc


def alert(rule: str, story: str, matched: str, suffix: str = "") -> dict[str, Any]:
    return {"id": f"{rule}:{story}{suffix}", "rule": rule, "item_id": story, "story_id": story,
            "dedupe_status": "new", "title": "Quake hits the coast", "url": "https://wire.example/1",
            "source": {"id": "wire", "name": "Wire"}, "published_at": "2026-03-03T10:00:00Z", "matched_at": matched}


def test_a_story_lists_its_items_oldest_first_and_nothing_for_an_unknown_id(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    store.index_items_sync([
        item("post:9", "2026-03-03T10:30:00Z", story="wire:1", status="duplicate"),
        item("wire:1", "2026-03-03T10:00:00Z", story="wire:1"),
        item("herald:4", "2026-03-03T10:10:00Z", story="wire:1", status="near_duplicate"),
        item("other:1", "2026-03-03T10:05:00Z", story="other:1"),
    ])
    assert [d["id"] for d in store.story_items("wire:1")] == ["wire:1", "herald:4", "post:9"]
    assert store.story_items("nope:1") == []


def test_every_revision_is_kept_once_even_when_it_arrives_late(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    long_body = "word " * 200
    rev1 = item("live:7", "2026-03-03T10:00:00Z", story="live:7", title="Blast reported")
    rev3 = item("live:7", "2026-03-03T10:00:00Z", story="live:7", revision=3, title="Blast: third take",
                updated="2026-03-03T10:20:00Z", body=long_body)
    rev2 = item("live:7", "2026-03-03T10:00:00Z", story="live:7", revision=2, title="Blast hit a substation",
                updated="2026-03-03T10:09:00Z")
    outcomes = [o.status for batch in ([rev1], [rev3], [rev2], [rev1]) for o in store.index_items_sync(batch)]
    assert outcomes == ["indexed", "indexed", "stale", "stale"]
    assert store.story_items("live:7")[0]["title"] == "Blast: third take"  # the items table: newest only
    revisions = store.revisions(["live:7", "unknown:1"])
    assert revisions["unknown:1"] == []
    assert [(r["revision"], r["title"], r["updated_at"]) for r in revisions["live:7"]] == [
        (1, "Blast reported", "2026-03-03T10:00:00Z"),
        (2, "Blast hit a substation", "2026-03-03T10:09:00Z"),
        (3, "Blast: third take", "2026-03-03T10:20:00Z"),
    ]
    excerpt = revisions["live:7"][2]["excerpt"]
    assert len(excerpt) == EXCERPT_CHARS and excerpt.endswith("…") and "  " not in excerpt


def test_a_storys_alerts_come_with_their_deliveries_in_time_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    store.index_alerts_sync([
        alert("quake", "wire:1", "2026-03-03T10:01:00Z"),
        alert("quake", "wire:1", "2026-03-03T10:21:00Z", ":r2"),
        alert("quake", "other:1", "2026-03-03T10:02:00Z"),
    ])
    store.index_deliveries_sync([
        {"alert_id": "quake:wire:1", "destination": "desk", "outcome": "delivered", "at": "2026-03-03T10:01:02Z",
         "attempts": 1},
        {"alert_id": "quake:wire:1", "destination": "pager", "outcome": "dead-lettered",
         "at": "2026-03-03T10:01:09Z", "attempts": 3, "reason": "HTTP 503"},
    ])
    alerts = store.story_alerts("wire:1")
    assert [a["id"] for a in alerts] == ["quake:wire:1", "quake:wire:1:r2"]
    assert alerts[0]["deliveries"] == [
        {"destination": "desk", "outcome": "delivered", "at": "2026-03-03T10:01:02Z", "attempts": 1},
        {"destination": "pager", "outcome": "dead-lettered", "at": "2026-03-03T10:01:09Z", "attempts": 3},
    ]
    assert alerts[1]["deliveries"] == []
    assert store.story_alerts("nope:1") == []
