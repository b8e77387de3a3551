"""In-process bus with Kafka's semantics, for ``wirewatch run`` on one machine.

Topics are append-only logs split into partitions by a stable hash of the key
(one key's messages stay ordered); consumer groups share the partitions of a
topic and resume from committed offsets. Given a SQLite connection the logs
and offsets persist, so a restarted process continues where it committed.

Every write is a plain SQLite statement with no ``await`` in between, so a
caller holding a transaction (see :class:`wirewatch.core.sqlite.Database`)
can publish, commit offsets and update its own state atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wirewatch.bus.base import Message, decode, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_topics (topic TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bus_messages (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    key TEXT, raw BLOB NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
"""


def _decoded(raw: bytes) -> Any:
    """The JSON value of ``raw``, or None when it is not JSON (a consumer dead-letters it)."""
    try:
        return decode(raw)
    except ValueError:
        return None


def partition_for(key: str | None, partitions: int, counter: itertools.count[int]) -> int:
    """Stable across processes (CRC32, not ``hash()``): a key always lands in one partition."""
    if key is None:
        return next(counter) % partitions
    return zlib.crc32(key.encode("utf-8")) % partitions


@dataclass
class _Log:
    """One partition: messages from ``base`` on (older ones trimmed once every group committed)."""

    base: int = 0
    messages: list[Message] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.base + len(self.messages)

    def read(self, offset: int, limit: int) -> list[Message]:
        start = max(offset, self.base) - self.base
        return self.messages[start : start + limit]


class MemoryBus:
    """Topics, partitions and consumer groups in this process; a :class:`Publisher` itself."""

    def __init__(self, partitions: int = 1, conn: sqlite3.Connection | None = None) -> None:
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.default_partitions = partitions
        self._conn = conn
        self._logs: dict[str, list[_Log]] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._members: dict[str, list[MemorySubscriber]] = {}
        self._round_robin = itertools.count()
        self._changed = asyncio.Event()
        if conn is not None:
            conn.executescript(_SCHEMA)
            self._load(conn)

    def _load(self, conn: sqlite3.Connection) -> None:
        for topic, partitions in conn.execute("SELECT topic, partitions FROM bus_topics"):
            self._logs[topic] = [_Log() for _ in range(partitions)]
        for grp, topic, partition, offset in conn.execute(
            'SELECT grp, topic, partition, "offset" FROM bus_offsets'
        ):
            self._committed[(grp, topic, partition)] = offset
        rows = conn.execute(
            'SELECT topic, partition, "offset", key, raw, ts FROM bus_messages ORDER BY topic, partition, "offset"'
        )
        for topic, partition, offset, key, raw, ts in rows:
            log = self._logs[topic][partition]
            if not log.messages:
                log.base = offset
            log.messages.append(Message(topic, partition, offset, key, _decoded(raw), raw, ts))
        for topic, logs in self._logs.items():
            for partition, log in enumerate(logs):
                if not log.messages:
                    # Everything was trimmed: the end is the highest committed offset.
                    log.base = max(
                        (o for (_g, t, p), o in self._committed.items() if t == topic and p == partition),
                        default=0,
                    )

    # -- topics ------------------------------------------------------------
    def create_topic(self, topic: str, partitions: int | None = None) -> None:
        """Create ``topic`` if missing (like ``ensure_topics``); existing ones are left alone."""
        if topic in self._logs:
            return
        n = partitions or self.default_partitions
        self._logs[topic] = [_Log() for _ in range(n)]
        if self._conn is not None:
            self._conn.execute("INSERT OR IGNORE INTO bus_topics VALUES (?, ?)", (topic, n))

    def partitions(self, topic: str) -> int:
        self.create_topic(topic)
        return len(self._logs[topic])

    def end_offsets(self, topic: str) -> list[int]:
        self.create_topic(topic)
        return [log.end for log in self._logs[topic]]

    def committed(self, group: str, topic: str) -> list[int]:
        return [self._committed.get((group, topic, p), 0) for p in range(self.partitions(topic))]

    def lag(self, group: str, topic: str) -> int:
        """Messages of ``topic`` the group has not committed yet."""
        return sum(e - c for e, c in zip(self.end_offsets(topic), self.committed(group, topic), strict=True))

    def messages(self, topic: str) -> list[Message]:
        """Every retained message of ``topic``, partition by partition (for tests and tools)."""
        self.create_topic(topic)
        return [m for log in self._logs[topic] for m in log.messages]

    # -- Publisher -----------------------------------------------------------
    async def start(self) -> None:
        """Nothing to connect: present so the bus is a :class:`Publisher`."""

    async def stop(self) -> None:
        """Nothing to flush: every publish is already stored."""

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        """Append one message; stored (and durable if persistent) on return."""
        self.append(topic, value, key)

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        for key, value in messages:
            self.append(topic, value, key)

    def append(self, topic: str, value: Any, key: str | None = None) -> Message:
        """Synchronous publish: no await, so it joins the caller's SQLite transaction."""
        return self.append_raw(topic, encode(value), key)

    def append_raw(self, topic: str, raw: bytes, key: str | None = None) -> Message:
        """:meth:`append` of bytes as they are, JSON or not (as any Kafka producer may write them)."""
        self.create_topic(topic)
        logs = self._logs[topic]
        partition = partition_for(key, len(logs), self._round_robin)
        log = logs[partition]
        message = Message(topic, partition, log.end, key, _decoded(raw), raw, int(time.time() * 1000))
        if self._conn is not None:
            self._conn.execute(
                'INSERT INTO bus_messages (topic, partition, "offset", key, raw, ts) VALUES (?, ?, ?, ?, ?, ?)',
                (topic, partition, message.offset, key, raw, message.timestamp_ms),
            )
        log.messages.append(message)
        self._wake()
        return message

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, timeout: float) -> None:
        """Sleep until something is published or the group changes, at most ``timeout`` s."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # -- consumer groups -------------------------------------------------------
    def subscriber(self, topics: Sequence[str] | str, group: str) -> MemorySubscriber:
        """A new member of consumer group ``group`` reading ``topics``."""
        return MemorySubscriber(self, [topics] if isinstance(topics, str) else list(topics), group)

    def _join(self, member: MemorySubscriber) -> None:
        self._members.setdefault(member.group, []).append(member)
        # A new group starts at the retained beginning and holds back trimming from now on.
        self._commit(
            member.group,
            {
                (topic, p): self._committed.get((member.group, topic, p), log.base)
                for topic in member.topics
                for p, log in enumerate(self._logs[topic] if self.partitions(topic) else [])
            },
        )
        self._rebalance(member.group)

    def _leave(self, member: MemorySubscriber) -> None:
        members = self._members.get(member.group, [])
        if member in members:
            members.remove(member)
            self._rebalance(member.group)

    def _rebalance(self, group: str) -> None:
        """Round-robin partitions over members in join order; positions restart at commits."""
        members = self._members.get(group, [])
        for topic in {t for m in members for t in m.topics}:
            readers = [m for m in members if topic in m.topics]
            for m in readers:
                m._positions = {tp: o for tp, o in m._positions.items() if tp[0] != topic}
            for partition in range(self.partitions(topic)):
                owner = readers[partition % len(readers)]
                owner._positions[(topic, partition)] = self._committed.get((group, topic, partition), 0)
        self._wake()

    def _commit(self, group: str, offsets: dict[tuple[str, int], int]) -> None:
        for (topic, partition), offset in offsets.items():
            if self._committed.get((group, topic, partition), -1) == offset:
                continue
            self._committed[(group, topic, partition)] = offset
            if self._conn is not None:
                self._conn.execute(
                    'INSERT INTO bus_offsets (grp, topic, partition, "offset") VALUES (?, ?, ?, ?) '
                    'ON CONFLICT (grp, topic, partition) DO UPDATE SET "offset" = excluded."offset"',
                    (group, topic, partition, offset),
                )
            self._trim(topic, partition)

    def _trim(self, topic: str, partition: int) -> None:
        """Drop messages every group that ever read ``topic`` has committed past."""
        offsets = [o for (_g, t, p), o in self._committed.items() if t == topic and p == partition]
        log = self._logs[topic][partition]
        upto = min(offsets, default=log.base)
        if upto <= log.base:
            return
        del log.messages[: upto - log.base]
        log.base = upto
        if self._conn is not None:
            self._conn.execute(
                'DELETE FROM bus_messages WHERE topic = ? AND partition = ? AND "offset" < ?',
                (topic, partition, upto),
            )


class MemorySubscriber:
    """A consumer-group member of a :class:`MemoryBus` (the :class:`Subscriber` protocol)."""

    def __init__(self, bus: MemoryBus, topics: list[str], group: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self._positions: dict[tuple[str, int], int] = {}
        self._running = False

    async def start(self) -> None:
        if not self._running:
            self._running = True
            self.bus._join(self)

    async def stop(self) -> None:
        if self._running:
            self._running = False
            self.bus._leave(self)

    def poll(self, max_records: int = 500) -> list[Message]:
        """Take up to ``max_records`` messages now (possibly none); positions advance."""
        out: list[Message] = []
        for (topic, partition), position in sorted(self._positions.items()):
            if len(out) >= max_records:
                break
            chunk = self.bus._logs[topic][partition].read(position, max_records - len(out))
            if chunk:
                out.extend(chunk)
                self._positions[(topic, partition)] = chunk[-1].offset + 1
        return out

    async def batches(self, max_records: int = 500, timeout_ms: int = 1000) -> AsyncIterator[list[Message]]:
        """Yield non-empty batches until :meth:`stop`; waits for publishes in between."""
        await self.start()
        while self._running:
            batch = self.poll(max_records)
            if batch:
                yield batch
            else:
                await self.bus.wait_for_change(timeout_ms / 1000)

    async def commit(self) -> None:
        """Commit the position of everything yielded so far."""
        self.commit_now()

    def commit_now(self) -> None:
        """Synchronous commit: joins the caller's SQLite transaction."""
        self.bus._commit(self.group, dict(self._positions))
