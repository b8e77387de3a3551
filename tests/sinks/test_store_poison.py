"""A poison message never stops the indexer: each store rejects, per document, what it can't
store (one dead letter with the reason) and stores the rest of the batch.

The poisons are schema-valid (the contract's timestamp pattern and ``revision >= 1`` let them
through), written to the bus as raw JSON bytes as any Kafka producer could write them.
Both stores run for real: SQLite in ``tmp_path``, Elasticsearch on the shared node.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wirewatch.bus.memory import MemoryBus
from wirewatch.core.schemas import is_valid
from wirewatch.sinks.indexer import Indexer
from wirewatch.sinks.sqlite import SqliteStore
from wirewatch.sinks.store import ItemStore

from .helpers import drop_prefix, load_jsonl

ITEMS, ALERTS, DEAD = "t.processed", "t.alerts", "t.dead-letter"


def _item(n: int, **changes: Any) -> dict[str, Any]:
    """A distinct valid processed item (a copy of fixture item 0 with its own id)."""
    doc = copy.deepcopy(load_jsonl("processed_items.jsonl")[0])
    doc.update(id=f"poison-test:{n}", story_id=f"poison-test:{n}", title=f"Harbour cranes story {n}")
    doc["dedupe"] = {"status": "new", "of": None}
    doc.update(changes)
    return doc


def _alert(n: int, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(load_jsonl("alerts.jsonl")[0])
    doc.update(id=f"cranes:poison-test:{n}", item_id=f"poison-test:{n}", story_id=f"poison-test:{n}")
    doc.update(changes)
    return doc


#: (raw JSON line, the reason's words) for each poison; the raw text keeps what json.dumps can't write.
ITEM_POISONS: dict[str, tuple[bytes, str]] = {
    "impossible published_at": (json.dumps(_item(101, published_at="2025-02-30T25:61:61Z")).encode(),
                                "published_at 2025-02-30T25:61:61Z is not a real date"),
    "impossible processed_at": (json.dumps(_item(102, processed_at="2025-04-31T10:00:00Z")).encode(),
                                "processed_at 2025-04-31T10:00:00Z is not a real date"),
    "leap second": (json.dumps(_item(103, updated_at="2016-12-31T23:59:60Z")).encode(),
                    "updated_at 2016-12-31T23:59:60Z is not a real date"),
    "revision 10^30": (json.dumps(_item(104, revision=10**30)).encode(),
                       "is out of range (1 to 2147483647)"),
    "revision 2^31": (json.dumps(_item(105, revision=2**31)).encode(),
                      "revision 2147483648 is out of range (1 to 2147483647)"),
    "lone surrogate in the title": (json.dumps(_item(106)).replace("Harbour cranes story 106", "cranes \\ud800")
                                    .encode(), "not valid JSON"),
}

ALERT_POISONS: dict[str, tuple[bytes, str]] = {
    "impossible matched_at": (json.dumps(_alert(201, matched_at="2025-02-29T10:00:00Z")).encode(),
                              "matched_at 2025-02-29T10:00:00Z is not a real date"),
    "alert revision 10^30": (json.dumps(_alert(202, revision=10**30)).encode(),
                             "is out of range (1 to 2147483647)"),
}


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[tuple[ItemStore, Any]]:
    """SqliteStore in ``tmp_path`` and a function listing the ids it holds (items and alerts)."""
    sqlite = SqliteStore(tmp_path)
    await sqlite.setup()

    async def stored_ids() -> set[str]:
        return {r[0] for r in sqlite.db.conn.execute("SELECT id FROM items UNION ALL SELECT id FROM alerts")}

    yield sqlite, stored_ids
    await sqlite.close()


@pytest.fixture
async def elasticsearch_store(es_client: Any, index_prefix: str) -> AsyncIterator[tuple[ItemStore, Any]]:
    """ElasticsearchStore on the shared node and a function listing the ids it holds."""
    from wirewatch.sinks.elasticsearch import ElasticsearchStore

    es = ElasticsearchStore(es_client, index_prefix)
    await es.setup()

    async def stored_ids() -> set[str]:
        await es.refresh()
        response = await es_client.search(index=f"{index_prefix}-*", size=100, source=False,
                                          ignore_unavailable=True, allow_no_indices=True)
        return {h["_id"] for h in response["hits"]["hits"]}

    try:
        yield es, stored_ids
    finally:
        await drop_prefix(es_client, index_prefix)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest) -> tuple[ItemStore, Any]:
    """Each store for real, with a function listing the ids it holds."""
    result: tuple[ItemStore, Any] = request.getfixturevalue(f"{request.param}_store")
    return result


def test_the_poisons_pass_the_contract() -> None:
    """The store is the last line: these pass schema validation (or are dead-lettered before it)."""
    for name, (raw, _) in {**ITEM_POISONS, **ALERT_POISONS}.items():
        value = json.loads(raw)
        if "surrogate" in name:
            assert value["title"] == "cranes \ud800"  # the bus's decoder refuses it: "not valid JSON"
            continue
        assert is_valid("processed_item" if name in ITEM_POISONS else "alert", value), name


async def test_a_batch_with_poison_stores_every_valid_document_and_dead_letters_each_poison(
    store: tuple[ItemStore, Any],
) -> None:
    item_store, stored_ids = store
    bus = MemoryBus()
    valid_items = [_item(n) for n in range(1, 5)]
    valid_alerts = [_alert(n) for n in range(1, 3)]
    # valid and poison interleaved, items and alerts in one batch, as the indexer consumes them
    for index, (raw, _) in enumerate(ITEM_POISONS.values()):
        if index < len(valid_items):
            bus.append(ITEMS, valid_items[index])
        bus.append_raw(ITEMS, raw)
    for index, (raw, _) in enumerate(ALERT_POISONS.values()):
        bus.append(ALERTS, valid_alerts[index])
        bus.append_raw(ALERTS, raw)
    subscriber = bus.subscriber([ITEMS, ALERTS], "indexer")
    await subscriber.start()
    indexer = Indexer(subscriber, item_store, bus, items_topic=ITEMS, alerts_topic=ALERTS,
                      dead_letter_topic=DEAD)

    batch = subscriber.poll(100)
    assert len(batch) == 4 + len(ITEM_POISONS) + 2 + len(ALERT_POISONS)
    assert await indexer.handle(batch) is True  # durable: the offsets may be committed

    expected_ids = {d["id"] for d in valid_items} | {a["id"] for a in valid_alerts}
    assert await stored_ids() == expected_ids
    letters = [m.value for m in bus.messages(DEAD)]
    assert len(letters) == len(ITEM_POISONS) + len(ALERT_POISONS)
    by_payload = {letter["payload"].encode(): letter for letter in letters}
    for name, (raw, words) in {**ITEM_POISONS, **ALERT_POISONS}.items():
        letter = by_payload[raw]
        assert letter["stage"] == "indexer", name
        assert words in letter["reason"], (name, letter["reason"])
        assert letter["topic"] == (ITEMS if name in ITEM_POISONS else ALERTS)


async def test_the_store_alone_rejects_per_document(store: tuple[ItemStore, Any]) -> None:
    """Called directly (as ``wirewatch indexer`` does), the store answers one outcome per document."""
    item_store, stored_ids = store
    docs = [_item(1), _item(2, published_at="2025-02-30T25:61:61Z"), _item(3, revision=10**30),
            _item(4, entities=[{"name": "Cranes", "type": "ORG", "count": 10**30, "origin": "gazetteer"}]),
            _item(5), _item(6, title="cranes \ud800"), _item(7, title="cranes \ud800", url=None)]
    outcomes = await item_store.index_items(docs)
    assert [o.id for o in outcomes] == [d["id"] for d in docs]
    statuses = [o.status for o in outcomes]
    assert statuses[:3] == ["indexed", "rejected", "rejected"] and statuses[4:] == ["indexed", "rejected", "rejected"]
    # a lone surrogate: SQLite can't encode it; Elasticsearch refuses it in the title (or the serialiser does)
    surrogate = outcomes[5].reason or ""
    assert "surrogates not allowed" in surrogate or "failed to parse field [title]" in surrogate
    # a 10^30 count: SQLite keeps the JSON as it is; Elasticsearch can't serialise or map it
    assert statuses[3] == ("indexed" if isinstance(item_store, SqliteStore) else "rejected")
    if statuses[3] == "rejected":
        assert "entities" in (outcomes[3].reason or "") or "64-bit" in (outcomes[3].reason or "")
    kept = {d["id"] for d, status in zip(docs, statuses, strict=True) if status == "indexed"}
    assert await stored_ids() == kept
