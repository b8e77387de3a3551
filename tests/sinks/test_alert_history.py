"""Alert history in both stores: the first alert with an id is the record (later duplicates of the
story are counted, not stored), each delivery is stored beside it, and ``alert_history`` /
``alert_total`` answer what was delivered, to which destination, when and about which story."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wirewatch.sinks.elasticsearch import ElasticsearchStore
from wirewatch.sinks.sqlite import SqliteStore


def alert(rule: str, story: str, item: str, title: str, matched_at: str) -> dict[str, Any]:
    source = item.split(":", 1)[0]
    return {
        "id": f"{rule}:{story}", "rule": rule, "notify": ["desk", "archive"], "item_id": item,
        "story_id": story, "dedupe_status": "new" if item == story else "near_duplicate", "title": title,
        "url": f"https://{source}.example/{item}", "source": {"id": source},
        "published_at": "2026-12-03T09:00:00Z", "matched_at": matched_at,
    }


#: the demo's shape: a story alerts, then duplicates from other outlets match the same rule
FIRST = alert("grain-corridor", "meridian-wire:mw-1001", "meridian-wire:mw-1001",
              "Ukraine and Poland agree grain corridor", "2026-12-03T09:00:01.000Z")
MIRROR = alert("grain-corridor", "meridian-wire:mw-1001", "harbour-post:hp-2001",
               "Grain corridor deal agreed, Harbour Post", "2026-12-03T09:00:09.000Z")
DIGEST = alert("grain-corridor", "meridian-wire:mw-1001", "morning-digest:digest-4001",
               "The Morning Digest: grain corridor", "2026-12-03T09:00:20.000Z")
STRIKE = alert("port-strike", "meridian-wire:mw-1002", "meridian-wire:mw-1002",
               "Dockers strike at Gdansk", "2026-12-03T09:00:02.000Z")

DELIVERIES = [
    {"alert_id": FIRST["id"], "destination": "desk", "outcome": "delivered", "at": "2026-12-03T09:00:01.400Z",
     "attempts": 1, "rule": "grain-corridor", "story_id": FIRST["story_id"]},
    {"alert_id": FIRST["id"], "destination": "archive", "outcome": "dead-lettered",
     "at": "2026-12-03T09:00:03.000Z", "attempts": 3, "reason": "HTTP 503"},
    {"alert_id": STRIKE["id"], "destination": "desk", "outcome": "throttled", "at": "2026-12-03T09:00:02.100Z",
     "attempts": 0},
    # the archive came back and the dead letter was replayed
    {"alert_id": FIRST["id"], "destination": "archive", "outcome": "delivered", "at": "2026-12-03T09:05:00.000Z",
     "attempts": 1},
]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path)
    await store.setup()
    yield store
    await store.close()


async def history(store: Any, **kwargs: Any) -> list[dict[str, Any]]:
    if isinstance(store, SqliteStore):
        result: list[dict[str, Any]] = store.alert_history(**kwargs)
        return result
    await store.refresh()
    return list(await store.alert_history(**kwargs))


async def total(store: Any, **kwargs: Any) -> int:
    if isinstance(store, SqliteStore):
        return store.alert_total(**kwargs)
    await store.refresh()
    return int(await store.alert_total(**kwargs))


async def check_history(store: Any) -> None:
    assert [o.status for o in await store.index_alerts([FIRST, STRIKE])] == ["indexed", "indexed"]
    # duplicates of the story, one batch later and twice in one batch: counted, never stored
    assert [o.status for o in await store.index_alerts([MIRROR])] == ["duplicate"]
    assert [o.status for o in await store.index_alerts([DIGEST, DIGEST])] == ["duplicate", "duplicate"]
    assert [o.status for o in await store.index_deliveries(DELIVERIES)] == ["indexed"] * 4
    # a replayed delivery record changes nothing
    assert [o.status for o in await store.index_deliveries(DELIVERIES[:1])] == ["indexed"]

    rows = await history(store)
    assert [(a["id"], a["item_id"], a["title"]) for a in rows] == [
        ("port-strike:meridian-wire:mw-1002", "meridian-wire:mw-1002", "Dockers strike at Gdansk"),
        ("grain-corridor:meridian-wire:mw-1001", "meridian-wire:mw-1001", "Ukraine and Poland agree grain corridor"),
    ]
    grain = rows[1]
    assert {k: v for k, v in grain.items() if k != "deliveries"} == FIRST  # the alert as delivered
    assert grain["deliveries"] == [
        {"destination": "desk", "outcome": "delivered", "at": "2026-12-03T09:00:01.400Z", "attempts": 1},
        {"destination": "archive", "outcome": "dead-lettered", "at": "2026-12-03T09:00:03.000Z", "attempts": 3},
        {"destination": "archive", "outcome": "delivered", "at": "2026-12-03T09:05:00.000Z", "attempts": 1},
    ]
    assert rows[0]["deliveries"] == [
        {"destination": "desk", "outcome": "throttled", "at": "2026-12-03T09:00:02.100Z", "attempts": 0},
    ]
    assert await total(store) == 2
    assert await total(store, rule="grain-corridor") == 1
    assert await total(store, rule="nothing") == 0
    assert [a["id"] for a in await history(store, rule="grain-corridor")] == [FIRST["id"]]
    assert [a["id"] for a in await history(store, limit=1)] == [STRIKE["id"]]
    assert [a["id"] for a in await history(store, limit=1, offset=1)] == [FIRST["id"]]
    assert await history(store, offset=2) == []
    counts = store.delivery_counts()
    if not isinstance(counts, dict):
        counts = await counts
    assert counts == {"delivered": 2, "dead-lettered": 1, "throttled": 1}


async def test_sqlite_alert_history_keeps_the_first_alert_and_lists_its_deliveries(sqlite_store: SqliteStore) -> None:
    await check_history(sqlite_store)


@pytest.mark.elastic
async def test_elastic_alert_history_keeps_the_first_alert_and_lists_its_deliveries(
    es_store: ElasticsearchStore,
) -> None:
    await check_history(es_store)


@pytest.mark.elastic
async def test_elastic_duplicate_a_month_later_is_still_a_duplicate(es_store: ElasticsearchStore) -> None:
    """Alert indices are monthly (by ``matched_at``): a story's duplicate matched in the next
    month lands in another index, where ``create`` alone would not see the first alert."""
    december = alert("grain-corridor", "s:1", "s:1", "First", "2026-12-31T23:59:59.000Z")
    january = alert("grain-corridor", "s:1", "t:9", "Copy", "2027-01-01T00:00:05.000Z")
    assert [o.status for o in await es_store.index_alerts([december])] == ["indexed"]
    await es_store.refresh()
    assert [o.status for o in await es_store.index_alerts([january])] == ["duplicate"]
    await es_store.refresh()
    assert [a["title"] for a in await es_store.alert_history()] == ["First"]


async def test_a_bad_delivery_record_is_rejected_alone(sqlite_store: SqliteStore) -> None:
    bad = {"alert_id": "r:1", "destination": "desk", "outcome": "lost", "at": "2026-12-03T09:00:00Z"}
    no_alert = {"destination": "desk", "outcome": "delivered", "at": "2026-12-03T09:00:00Z"}
    outcomes = await sqlite_store.index_deliveries([bad, no_alert, DELIVERIES[0]])
    assert [o.status for o in outcomes] == ["rejected", "rejected", "indexed"]
    assert outcomes[1].reason == "delivery without alert_id"
    assert sqlite_store.delivery_counts() == {"delivered": 1}


async def test_the_indexer_stores_delivered_topic_records_old_and_new(sqlite_store: SqliteStore) -> None:
    """Records written before they named their alert (``{"outcome", "at"}``, keyed
    ``destination|alert id``) are stored from the key; a tombstone is skipped; a bad one is dead-lettered."""
    from wirewatch.bus.memory import MemoryBus
    from wirewatch.sinks.indexer import Indexer

    bus = MemoryBus()
    await sqlite_store.index_alerts([FIRST])
    bus.append("delivered", {"outcome": "delivered", "at": "2026-12-03T09:00:01.400Z"}, f"desk|{FIRST['id']}")
    bus.append("delivered", DELIVERIES[1], f"archive|{FIRST['id']}")
    bus.append_raw("delivered", b"", f"chat|{FIRST['id']}")  # a tombstone: no record
    bus.append("delivered", {"outcome": "lost", "at": "2026-12-03T09:00:00Z"}, f"chat|{FIRST['id']}")
    subscriber = bus.subscriber(["delivered"], "indexer")
    await subscriber.start()
    indexer = Indexer(subscriber, sqlite_store, bus, items_topic="processed", alerts_topic="alerts",
                      dead_letter_topic="dead-letter", deliveries_topic="delivered")
    assert await indexer.handle(subscriber.poll())
    (grain,) = sqlite_store.alert_history()
    assert grain["deliveries"] == [
        {"destination": "desk", "outcome": "delivered", "at": "2026-12-03T09:00:01.400Z"},
        {"destination": "archive", "outcome": "dead-lettered", "at": "2026-12-03T09:00:03.000Z", "attempts": 3},
    ]
    (letter,) = [m.value for m in bus.messages("dead-letter")]
    assert (letter["stage"], letter["topic"], letter["key"]) == ("indexer", "delivered", f"chat|{FIRST['id']}")
    assert letter["reason"].startswith("rejected by the store: not a valid delivery at outcome:")


@pytest.mark.elastic
async def test_elastic_alerts_can_be_filtered_by_kind_and_mute(es_store: ElasticsearchStore, es_client: Any) -> None:
    """Signal rules' ``kind`` and a mute's ``by``/``name``/``until`` are mapped fields, so Kibana
    filters and groups by them (the alerts index is ``dynamic: false``: unmapped, they were kept
    in ``_source`` only)."""
    spike = {**alert("quake-spike", "s:1", "s:1", "Quake", "2026-12-03T09:00:01.000Z"),
             "id": "quake-spike:spike:20261203T0900Z", "kind": "spike",
             "figures": {"count": 9, "window_seconds": 3600, "baseline_count": 12, "baseline_seconds": 86400,
                         "expected": 0.5, "factor": 3}}
    muted = {**alert("night", "s:2", "s:2", "Night desk", "2026-12-03T23:00:00.000Z"),
             "muted": {"by": "rule", "name": "night", "until": "2026-12-04T06:00:00Z"}}
    assert [o.status for o in await es_store.index_alerts([spike, muted, STRIKE])] == ["indexed"] * 3
    await es_store.refresh()
    pattern = f"{es_store.prefix}-alerts-*"
    found = await es_client.search(index=pattern, size=0, aggs={"kinds": {"terms": {"field": "kind"}}})
    assert {b["key"]: b["doc_count"] for b in found["aggregations"]["kinds"]["buckets"]} == {"spike": 1}
    found = await es_client.search(index=pattern, query={"bool": {"filter": [
        {"term": {"muted.by": "rule"}}, {"range": {"muted.until": {"gte": "2026-12-04T05:00:00Z"}}}]}})
    assert [hit["_source"]["id"] for hit in found["hits"]["hits"]] == ["night:s:2"]
