"""The Faust path's batch pieces without a broker: hop messages and the dedupe memory's batch log."""

from __future__ import annotations

import json

from wirewatch.processors.faust_app import BatchLog, hop_messages


def test_hop_messages_keep_every_item_in_order_under_the_byte_limit() -> None:
    parts = [json.dumps({"n": n, "pad": "x" * (n * 7 % 50)}).encode() for n in range(40)]
    hops = list(hop_messages(parts, limit=200))
    assert len(hops) > 1
    assert all(len(hop) <= 200 + len(b'{"items":[]}') for hop in hops)
    assert [item["n"] for hop in hops for item in json.loads(hop)["items"]] == list(range(40))


def test_an_item_larger_than_the_limit_travels_alone() -> None:
    parts = [b'{"n":0}', b'{"big":"' + b"y" * 500 + b'"}', b'{"n":2}']
    assert [len(json.loads(hop)["items"]) for hop in hop_messages(parts, limit=100)] == [1, 1, 1]
    assert list(hop_messages([])) == []


def test_the_batch_log_rebuilds_the_memory_from_its_entries_in_offset_order() -> None:
    table: dict[str, object] = {}
    log = BatchLog(table)
    log["i:a"] = {"s": "a", "t": 1.0}
    log.commit(9, ts=100.0)
    log["i:a"] = {"s": "a", "t": 2.0}  # a later batch overwrites
    log["i:b"] = {"s": "a", "t": 2.0}
    del log["i:b"]  # expiry is local: a rebuild restores it and expires it again on read
    log.commit(10, ts=200.0)
    log.commit(11, ts=300.0)  # nothing written: no entry
    assert sorted(table) == ["00000000000000000009", "00000000000000000010"]

    rebuilt = BatchLog(table)
    rebuilt.rebuild()
    assert rebuilt.data == {"i:a": {"s": "a", "t": 2.0}, "i:b": {"s": "a", "t": 2.0}}
    assert not rebuilt.stale
    assert rebuilt.purge(older_than=150.0) == 1
    assert sorted(table) == ["00000000000000000010"]


def test_timer_writes_land_after_the_last_batch_and_before_the_next_in_chunks() -> None:
    """Signal upkeep and silences marked by a timer: replayed after the batch before them and
    before the batch after them, at most ``chunk`` writes an entry (a changelog message)."""
    table: dict[str, object] = {}
    log = BatchLog(table)
    log["sig:q:1:r"] = {"f": None}
    log.commit(7, ts=100.0)
    for n in range(5):
        log[f"sig:n:1:r:e{n}"] = {"seen": n}
    log["sig:q:1:r"] = {"f": "x"}
    log.commit_timer(ts=150.0, chunk=2)
    log["sig:q:1:r"] = {"f": None}  # the next batch: an item came, the silence re-armed
    log.commit(8, ts=200.0)
    keys = sorted(table)
    assert [k.split("~")[0] for k in keys] == ["00000000000000000007"] * 4 + ["00000000000000000008"]
    assert [len(table[k]["w"]) for k in keys] == [1, 2, 2, 2, 1]  # type: ignore[index]

    rebuilt = BatchLog(table)
    rebuilt.rebuild()
    assert rebuilt["sig:q:1:r"] == {"f": None}
    assert [rebuilt[f"sig:n:1:r:e{n}"] for n in range(5)] == [{"seen": n} for n in range(5)]
    assert rebuilt.last_offset == 8
