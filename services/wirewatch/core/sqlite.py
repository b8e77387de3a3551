"""One SQLite file shared by the embedded adapters: the bus logs, key-value state, the item store.

:class:`Database` is one connection in WAL mode with nestable transactions, so
the embedded runner can wrap "process, publish, commit" in one transaction (a
SIGKILL leaves all or none). :class:`SqliteKV` is a persistent mapping in one
namespace (dedupe memory, poll state, delivered alerts).

A file that exists but is empty (0 bytes) or damaged is never opened as if it were new:
:func:`check_file` tells, :class:`StoreDamaged` is its one-line error, and
:func:`move_aside` keeps the damaged file (``<name>.damaged-<UTC time>``) for a user who
starts afresh. :func:`is_damage` tells damage from other SQLite errors at run time.
"""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
import threading
from collections.abc import ItemsView, Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from wirewatch.core.errors import ConfigError, WirewatchError

DB_FILE = "wirewatch.db"
#: SQLite's primary result codes for damage: SQLITE_CORRUPT (and its extended codes), SQLITE_NOTADB
_DAMAGE_CODES = frozenset({11, 26})
#: beside the database: its write-ahead log and shared-memory index move with it
_COMPANIONS = ("-wal", "-shm")

Check = Literal["quick", "thorough"]


class StoreDamaged(WirewatchError):
    """A database file that exists but is empty or damaged: one line with the path and what to do."""

    def __init__(self, path: Path | str, state: str) -> None:
        self.path = Path(path)
        self.state = state
        super().__init__(
            f"{self.path}: {state}; restore it from a backup, or start afresh with `wirewatch run "
            f"--fresh-store` (moves it aside to {self.path.name}.damaged-<time>, keeps delivered alerts)"
        )


def is_damage(exc: BaseException) -> bool:
    """True for SQLite's "malformed" / "not a database" errors, not for locks, full disks, bad SQL."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _DAMAGE_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def check_file(path: Path | str, check: Check = "thorough") -> str:
    """``"missing"``, ``"ok"``, ``"empty (0 bytes)"`` or ``"damaged: <what SQLite said>"``.

    ``quick`` reads the header and the schema (what every open needs); ``thorough`` adds
    ``PRAGMA quick_check`` (every page of every b-tree: 0.8-1.2 s on a 714 MB, 100,000-item
    store, so it runs where a process starts for long, not for each ``wirewatch search``).
    """
    path = Path(path)
    if not path.exists():
        return "missing"
    wal = path.with_name(path.name + "-wal")
    if path.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        return "empty (0 bytes)"
    try:
        conn = sqlite3.connect(str(path), timeout=10.0)
    except sqlite3.Error as exc:
        return f"damaged: {exc}"
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if check == "thorough":
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                return "damaged: " + "; ".join(" ".join(p.split()) for p in problems)[:300]
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise ConfigError(str(path), f"cannot read database: {exc}") from None
        return f"damaged: {exc}"
    finally:
        conn.close()
    return "ok"


def move_aside(path: Path | str) -> Path:
    """Rename a damaged database (and its WAL files) to ``<name>.damaged-<UTC time>``; returns the new path.

    Kept, not deleted: it may still be repaired (``sqlite3 FILE .recover``) or inspected.
    A stale ``-wal`` left beside a new file would be replayed into it, so it moves too.
    """
    path = Path(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", *_COMPANIONS):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.rename(target.with_name(target.name + suffix))
    return target


class Database:
    """One SQLite connection in WAL mode with nestable transactions.

    Autocommit outside :meth:`transaction`; inside, every statement of every
    component joins one ``BEGIN IMMEDIATE ... COMMIT``.
    """

    def __init__(self, path: Path | str, *, check: Check | None = None, read_only: bool = False) -> None:
        """``read_only``: open an existing file for reading (``mode=ro``): no folder, file or
        journal setting is created or changed (a read never makes a store)."""
        self.path = Path(path)
        #: "ok", or "damaged: ..." once damage was met (shown by the page's /healthz)
        self.state = "ok"
        if check is not None and str(path) != ":memory:":
            state = check_file(self.path, check)
            if state not in ("ok", "missing"):
                raise StoreDamaged(self.path, state)
        if str(path) != ":memory:" and not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(str(self.path.parent), f"cannot create data folder: {exc}") from None
        try:
            if read_only:
                self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                            isolation_level=None, check_same_thread=False, timeout=10.0)
                self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            else:
                self.conn = sqlite3.connect(
                    str(path), isolation_level=None, check_same_thread=False, timeout=10.0
                )
                self.conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a process crash (SIGKILL) loses no commit; only power loss may.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreDamaged(self.path, f"damaged: {exc}") from None
            raise ConfigError(str(self.path), f"cannot open database: {exc}") from None
        self._depth = 0
        self._lock = threading.RLock()

    @classmethod
    def in_dir(cls, data_dir: Path | str, *, check: Check | None = None) -> Database:
        return cls(Path(data_dir) / DB_FILE, check=check)

    def damaged(self, exc: BaseException) -> StoreDamaged:
        """Record damage met at run time (``/healthz`` reports it) and the one-line error for it."""
        self.state = f"damaged: {' '.join(str(exc).split())[:300]}"
        return StoreDamaged(self.path, self.state)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together, or none do (nesting joins the outer one)."""
        with self._lock:
            if self._depth == 0:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()



class SqliteKV(MutableMapping[str, Any]):
    """A persistent ``MutableMapping`` in one namespace (dedupe memory, poll state, ...).

    Values are pickled, so they come back exactly as stored (tuples stay tuples).
    Reads and writes go straight to SQLite (inside the caller's transaction when there is
    one): an LRU of 4,096 values in front of it made dedupe over it no faster (40 vs 37 us
    an item on 3,000 bench items).
    """

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace
        db.conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
            "PRIMARY KEY (ns, key)) WITHOUT ROWID"
        )

    def __getitem__(self, key: str) -> Any:
        row = self.db.conn.execute(
            "SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)
        ).fetchone()
        if row is None:
            raise KeyError(key)
        return pickle.loads(row[0])

    def __setitem__(self, key: str, value: Any) -> None:
        self.db.conn.execute(
            "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
            (self.namespace, key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)),
        )

    def __delitem__(self, key: str) -> None:
        cur = self.db.conn.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (self.namespace, key))
        if cur.rowcount == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return (
            self.db.conn.execute(
                "SELECT 1 FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)
            ).fetchone()
            is not None
        )

    def __iter__(self) -> Iterator[str]:
        rows = self.db.conn.execute("SELECT key FROM kv WHERE ns = ? ORDER BY key", (self.namespace,))
        return iter([r[0] for r in rows])

    def __len__(self) -> int:
        row = self.db.conn.execute("SELECT COUNT(*) FROM kv WHERE ns = ?", (self.namespace,)).fetchone()
        return int(row[0])

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        """Every pair in one query (the mixin would run one SELECT per key)."""
        rows = self.db.conn.execute("SELECT key, value FROM kv WHERE ns = ? ORDER BY key", (self.namespace,))
        return {key: pickle.loads(value) for key, value in rows}.items()
