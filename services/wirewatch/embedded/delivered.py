"""Delivered alerts of ``wirewatch run`` in their own file, so a damaged store can't resend them.

On the embedded bus the notifier's delivered set is the topic ``<prefix>.notifier-delivered``
inside ``wirewatch.db``, with everything else. When that file is empty or damaged and the user
starts afresh (``--fresh-store``), the pipeline polls every feed again and raises the same
alerts; the webhooks must not get them twice. So each finished delivery is also written to
``<data_dir>/delivered.db`` (written first: a crash in between leaves it known), and the
notifier starts knowing the keys of both.

Only keys with an outcome in :data:`wirewatch.sinks.notifier.DONE_OUTCOMES` are done:
a ``dead-lettered`` row is kept (it says what happened) but not known, so replaying the dead
letter (``wirewatch deadletters replay``) tries that destination again; its later outcome
replaces the row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wirewatch.core.sqlite import Database

DELIVERED_FILE = "delivered.db"


class DeliveredFile:
    """The set of finished delivery keys (``destination|alert id``) in one small SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path)
        self.db.conn.execute(
            "CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, "
            "at TEXT NOT NULL) WITHOUT ROWID"
        )
        # digest state: the records of digested alerts and of sent digests (they rebuild open digests)
        self.db.conn.execute("CREATE TABLE IF NOT EXISTS digest_records (key TEXT PRIMARY KEY, record TEXT NOT NULL) "
                             "WITHOUT ROWID")

    def keys(self) -> list[str]:
        """Keys done (:data:`DONE_OUTCOMES`; a dead-lettered delivery may be tried again)."""
        from wirewatch.sinks.notifier import DONE_OUTCOMES

        marks = ", ".join("?" for _ in DONE_OUTCOMES)
        return [row[0] for row in self.db.conn.execute(
            f"SELECT key FROM delivered WHERE outcome IN ({marks})", sorted(DONE_OUTCOMES))]

    def digest_records(self) -> dict[str, dict[str, Any]]:
        """Key -> latest record of every delivery that belongs to a digest."""
        return {str(k): json.loads(r) for k, r in self.db.conn.execute("SELECT key, record FROM digest_records")}

    def drop_digest_entries(self, digest_id: str) -> None:
        """Forget the entries of a digest that was sent (its own record stays and keeps it closed)."""
        self.db.conn.execute(
            "DELETE FROM digest_records WHERE json_extract(record, '$.outcome') = 'digested' "
            "AND json_extract(record, '$.digest.id') = ?", (digest_id,))

    def add_digest_record(self, key: str, record: Mapping[str, Any]) -> None:
        self.db.conn.execute(
            "INSERT INTO digest_records (key, record) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET record = excluded.record",
            (key, json.dumps(record, ensure_ascii=False)))

    def outcomes(self) -> dict[str, str]:
        """Every key with its latest outcome."""
        return {str(k): str(o) for k, o in self.db.conn.execute("SELECT key, outcome FROM delivered")}

    def add(self, key: str, outcome: str, at: str) -> None:
        self.db.conn.execute(
            "INSERT INTO delivered (key, outcome, at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET outcome = excluded.outcome, at = excluded.at",
            (key, outcome, at),
        )

    def add_known(self, keys: Iterable[str] | Mapping[str, str]) -> None:
        """Keys finished before this file existed (a data folder from an older version), with
        their outcome when known (``delivered`` otherwise)."""
        outcomes = keys if isinstance(keys, Mapping) else dict.fromkeys(keys, "delivered")
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO delivered (key, outcome, at) VALUES (?, ?, '') ON CONFLICT (key) DO NOTHING",
                list(outcomes.items()),
            )

    def close(self) -> None:
        self.db.close()


class AlsoToFile:
    """A :class:`~wirewatch.bus.base.Publisher` for the delivered topic: the file first, then the bus."""

    def __init__(self, file: DeliveredFile, bus: Any) -> None:
        self.file = file
        self.bus = bus

    async def start(self) -> None:
        await self.bus.start()

    async def stop(self) -> None:
        await self.bus.stop()

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        if key is not None:
            record = value if isinstance(value, dict) else {}
            if "digest" in record:
                self.file.add_digest_record(key, record)
                if record.get("outcome") in ("delivered", "dead-lettered"):  # the digest closed: its entries go
                    self.file.drop_digest_entries(str(record["digest"].get("id", "")))
            self.file.add(key, str(record.get("outcome", "delivered")), str(record.get("at", "")))
        await self.bus.publish(topic, value, key)

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        for key, value in messages:
            await self.publish(topic, value, key)
