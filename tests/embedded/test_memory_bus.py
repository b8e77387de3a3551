"""The in-process bus keeps Kafka's contract: per-key order, consumer groups, committed offsets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wirewatch.bus.memory import MemoryBus
from wirewatch.core.sqlite import Database


async def test_a_key_stays_in_one_partition_in_order() -> None:
    bus = MemoryBus(partitions=4)
    for i in range(20):
        await bus.publish("t", {"n": i}, key=f"k{i % 3}")
    by_key: dict[str, list[tuple[int, int]]] = {}
    for m in bus.messages("t"):
        by_key.setdefault(m.key or "", []).append((m.partition, m.value["n"]))
    for key, seen in by_key.items():
        assert len({p for p, _ in seen}) == 1, key
        assert [n for _, n in seen] == sorted(n for _, n in seen)
    assert sum(bus.end_offsets("t")) == 20


async def test_group_members_share_partitions_and_a_leaver_hands_over_from_the_commit() -> None:
    bus = MemoryBus(partitions=4)
    await bus.publish_many("t", [(f"k{i}", i) for i in range(40)])
    a, b = bus.subscriber("t", "g"), bus.subscriber("t", "g")
    await a.start()
    await b.start()
    got_a, got_b = [m.value for m in a.poll(100)], [m.value for m in b.poll(100)]
    assert got_a and got_b
    assert sorted(got_a + got_b) == list(range(40))
    a.commit_now()
    await b.stop()  # b never committed: its messages go to a again
    replay = [m.value for m in a.poll(100)]
    assert sorted(replay) == sorted(got_b)
    assert bus.lag("g", "t") == len(got_b)


async def test_batches_wake_on_publish_and_end_on_stop() -> None:
    bus = MemoryBus()
    sub = bus.subscriber(["t"], "g")
    received: list[int] = []

    async def consume() -> None:
        async for batch in sub.batches(timeout_ms=5000):
            received.extend(m.value for m in batch)
            await sub.commit()
            if len(received) == 3:
                await sub.stop()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    for i in range(3):
        await bus.publish("t", i)
    await asyncio.wait_for(task, 2)
    assert received == [0, 1, 2]
    assert bus.committed("g", "t") == [3]


async def test_persistent_bus_resumes_from_commits_and_never_reuses_offsets(tmp_path: Path) -> None:
    db = Database(tmp_path / "bus.db")
    bus = MemoryBus(partitions=2, conn=db.conn)
    reader = bus.subscriber("t", "g")
    await reader.start()
    await bus.publish_many("t", [("a", 1), ("b", 2), ("a", 3)])
    assert len(reader.poll(10)) == 3
    reader.commit_now()  # every group has read it all: trimmed
    await bus.publish("t", 4, key="b")
    db.close()

    db = Database(tmp_path / "bus.db")
    again = MemoryBus(partitions=2, conn=db.conn)
    assert [m.value for m in again.messages("t")] == [4]
    assert sum(again.end_offsets("t")) == 4
    reader = again.subscriber("t", "g")
    await reader.start()
    assert [m.value for m in reader.poll(10)] == [4]
    await again.publish("t", 5, key="b")
    offsets = [m.offset for m in again.messages("t")]
    assert len(set(offsets)) == len(offsets)
    late = again.subscriber("t", "late")  # a new group starts at what is retained
    await late.start()
    assert sorted(m.value for m in late.poll(10)) == [4, 5]
    db.close()
