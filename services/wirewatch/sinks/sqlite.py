"""The item store on SQLite + FTS5: the :class:`~wirewatch.sinks.store.ItemStore` of one machine.

It lives in the data folder's one database file (:class:`wirewatch.core.sqlite.Database`),
beside the bus logs and key-value state, so the embedded runner commits an
indexing batch and its offsets together.

Search gives the same hits as Elasticsearch by construction: FTS5 only narrows
the candidates to items holding a required term, and the rule matcher
(:func:`wirewatch.search.query.compile_query`) decides. :meth:`SqliteStore.search`
runs in a worker thread on its own read-only connection (WAL: it never waits
for the writer nor blocks it), so the event loop of ``wirewatch run`` goes on
while a search scans; cancelling the call stops the scan at its next row.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import heapq
import itertools
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from wirewatch.core.errors import SchemaError, WirewatchError
from wirewatch.core.schemas import SchemaName, validate
from wirewatch.core.sqlite import DB_FILE, Database
from wirewatch.core.times import parse_rfc3339
from wirewatch.sinks.store import (
    ALERT_TIMES,
    ITEM_TIMES,
    SORTS,
    IndexOutcome,
    SearchHit,
    SearchPage,
    Sort,
    check_window,
    delivery_id,
    delivery_problem,
    delivery_view,
    unstorable_reason,
)

_FTS_WORD = re.compile(r"[a-z0-9]+")
_FTS_TOKENIZER = "unicode61 remove_diacritics 2"

_STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    story_id TEXT NOT NULL,
    status TEXT NOT NULL,
    is_story INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    published_ms INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_published ON items (published_ms DESC, id);
CREATE INDEX IF NOT EXISTS items_story ON items (story_id);
CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(text, tokenize = '{tokenizer}');
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    story_id TEXT NOT NULL,
    matched_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (alert_id, destination, outcome)
) WITHOUT ROWID;
""".replace("{tokenizer}", _FTS_TOKENIZER)

#: Every revision of an item, small (title, a body excerpt, its time): the story page lists a
#: live-blog post's corrections while ``items`` keeps only the newest revision's document.
_REVISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS item_revisions (
    item_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    title TEXT NOT NULL,
    excerpt TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (item_id, revision)
) WITHOUT ROWID;
"""
#: Events (processors/events.py): items by ``event_id`` (an index on the document's field, no
#: column to migrate), and each merge an item announced (``event_merged``): old id -> new id,
#: so an id shown before a merge still finds its whole event (:meth:`SqliteStore.event_items`).
_EVENTS_SCHEMA = """
CREATE INDEX IF NOT EXISTS items_event ON items (json_extract(doc, '$.event_id'));
CREATE TABLE IF NOT EXISTS event_merges (
    old TEXT PRIMARY KEY,
    new TEXT NOT NULL,
    item_id TEXT NOT NULL,
    at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_merges_new ON event_merges (new);
"""
#: Merges followed from an old event id to the one it lives on in.
EVENT_HOPS = 16
#: Characters of a revision's body kept in ``item_revisions``.
EXCERPT_CHARS = 280


#: What one document's values can raise while being written (a value SQLite can't bind, text
#: that is no UTF-8): that document is rejected. Damage (``sqlite3.DatabaseError``) is not here.
_DOCUMENT_ERRORS = (ValueError, OverflowError, TypeError, sqlite3.InterfaceError, sqlite3.DataError)


def to_millis(stamp: str) -> int:
    """RFC 3339 UTC (``...Z``) to epoch milliseconds: a sort key independent of precision."""
    return int(parse_rfc3339(stamp).timestamp() * 1000)


def _valid(
    schema: SchemaName, times: Sequence[str], docs: Sequence[Any], outcomes: list[IndexOutcome]
) -> Iterator[tuple[str, Any]]:
    """Each storable document valid against ``schema`` with its id; the others get a ``rejected`` outcome."""
    for doc in docs:
        doc_id = str(doc.get("id", "")) if isinstance(doc, dict) else ""
        try:
            validate(schema, doc)
        except SchemaError as exc:
            outcomes.append(IndexOutcome(doc_id, "rejected", str(exc)))
            continue
        except UnicodeError as exc:  # jsonschema-rs reporting an error in text with a lone surrogate
            outcomes.append(IndexOutcome(doc_id, "rejected", f"not a valid {schema}: {exc}"))
            continue
        reason = unstorable_reason(doc, times)
        if reason is not None:
            outcomes.append(IndexOutcome(doc_id, "rejected", reason))
            continue
        yield doc_id, doc


@contextlib.contextmanager
def _one_document(conn: sqlite3.Connection) -> Iterator[None]:
    """A savepoint: a document that fails half-written leaves nothing, the batch goes on."""
    conn.execute("SAVEPOINT document")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO document")
        conn.execute("RELEASE document")
        raise
    conn.execute("RELEASE document")


_T = TypeVar("_T")


class Candidate(NamedTuple):
    """A stored item the query matched."""

    id: str
    published_at: str
    published_ms: int
    doc: dict[str, Any]


class SearchStopped(Exception):
    """A search was cancelled (its caller's deadline passed) and stopped before the end."""


class NoStore(WirewatchError):
    """A command that only reads was pointed at a folder holding no store (it creates none)."""

    def __init__(self, data_dir: Path | str) -> None:
        path = Path(data_dir) / DB_FILE
        what = "no such folder" if not Path(data_dir).is_dir() else f"no {DB_FILE} in it"
        super().__init__(
            f"no Wirewatch store at {path} ({what}): `wirewatch run --data-dir {data_dir} ...` makes one "
            "(`make demo` fills .wirewatch/demo); or give --data-dir (or WIREWATCH_DATA_DIR) "
            "the folder of an existing one"
        )


class SqliteStore:
    """The :class:`wirewatch.sinks.store.ItemStore` on SQLite + FTS5."""

    def __init__(self, data_dir: Path | str | None = None, *, db: Database | None = None,
                 read_only: bool = False) -> None:
        """``read_only``: the store of an existing data folder, opened for reading only
        (:class:`NoStore` when there is none: a read never creates a folder or a database)."""
        self._read_only = read_only
        if db is None:
            if data_dir is None:
                raise ValueError("SqliteStore needs data_dir or db")
            if read_only and not (Path(data_dir) / DB_FILE).is_file():
                raise NoStore(data_dir)
            # header and schema only: a full quick_check is ~1 s per 700 MB, too slow for each
            # `wirewatch search`; damage met while reading is caught where the command ends
            db = Database.in_dir(data_dir, check="quick") if not read_only else \
                Database(Path(data_dir) / DB_FILE, check="quick", read_only=True)
            self._owns_db = True
        else:
            self._owns_db = False
        self.db = db
        self._ready = False

    # -- ItemStore -------------------------------------------------------------
    async def setup(self) -> None:
        self.setup_sync()

    def setup_sync(self) -> None:
        if not self._ready:
            if not self._read_only:
                self.db.conn.executescript(_STORE_SCHEMA)
                self.db.conn.executescript(_REVISIONS_SCHEMA)
                self.db.conn.executescript(_EVENTS_SCHEMA)
            self._ready = True

    def has_items_table(self) -> bool:
        """False for a data folder whose database holds no item store yet (read-only use)."""
        row = self.db.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'").fetchone()
        return row is not None

    async def close(self) -> None:
        if self._owns_db:
            self.db.close()

    async def index_items(self, items: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        return self.index_items_sync(items)

    def index_items_sync(self, items: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Upsert by item id; an older revision than the stored one is ``stale``, never stored."""
        self.setup_sync()
        from wirewatch.search.analysis import search_fields

        outcomes: list[IndexOutcome] = []
        with self.db.transaction() as conn:
            for item_id, item in _valid("processed_item", ITEM_TIMES, items, outcomes):
                try:
                    with _one_document(conn):
                        outcomes.append(self._upsert_item(conn, item_id, item, search_fields))
                except _DOCUMENT_ERRORS as exc:
                    outcomes.append(IndexOutcome(item_id, "rejected", f"cannot be stored: {exc}"))
        return outcomes

    @staticmethod
    def _upsert_item(conn: sqlite3.Connection, item_id: str, item: dict[str, Any], search_fields: Any) -> IndexOutcome:
        revision = int(item.get("revision", 1))
        _keep_revision(conn, item_id, revision, item)
        row = conn.execute("SELECT seq, revision FROM items WHERE id = ?", (item_id,)).fetchone()
        # As Elasticsearch's external versions: only a newer revision replaces.
        if row is not None and row[1] >= revision:
            return IndexOutcome(item_id, "stale")
        story_id = item.get("story_id") or item["dedupe"].get("of") or item_id
        values = (
            story_id,
            item["dedupe"]["status"],
            int(story_id == item_id),
            revision,
            to_millis(item["published_at"]),
            item["published_at"],
            json.dumps(item, ensure_ascii=False),
        )
        text = fts_text(search_fields(item))
        if row is None:
            cur = conn.execute(
                "INSERT INTO items (story_id, status, is_story, revision, published_ms, published_at, doc, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, item_id),
            )
            seq = cur.lastrowid
        else:
            seq = row[0]
            conn.execute(
                "UPDATE items SET story_id = ?, status = ?, is_story = ?, revision = ?, published_ms = ?, "
                "published_at = ?, doc = ? WHERE seq = ?",
                (*values, seq),
            )
            conn.execute("DELETE FROM items_fts WHERE rowid = ?", (seq,))
        conn.execute("INSERT INTO items_fts (rowid, text) VALUES (?, ?)", (seq, text))
        for old in item.get("event_merged") or ():
            conn.execute("INSERT INTO event_merges (old, new, item_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (old) DO NOTHING",
                         (str(old), str(item["event_id"]), item_id, item.get("processed_at") or item["published_at"]))
        return IndexOutcome(item_id, "indexed")

    async def index_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        return self.index_alerts_sync(alerts)

    def index_alerts_sync(self, alerts: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """The first alert with an id is kept as it was (what the notifier delivered); a later
        one with the same id (a duplicate of the story, a replay) is ``duplicate``, not stored."""
        self.setup_sync()
        outcomes: list[IndexOutcome] = []
        with self.db.transaction() as conn:
            for alert_id, alert in _valid("alert", ALERT_TIMES, alerts, outcomes):
                try:
                    cur = conn.execute(
                        "INSERT INTO alerts (id, rule, story_id, matched_at, doc) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (id) DO NOTHING",
                        (alert_id, alert["rule"], alert["story_id"], alert["matched_at"], json.dumps(alert)),
                    )
                except _DOCUMENT_ERRORS as exc:  # one statement: nothing half-written to undo
                    outcomes.append(IndexOutcome(alert_id, "rejected", f"cannot be stored: {exc}"))
                    continue
                outcomes.append(IndexOutcome(alert_id, "indexed" if cur.rowcount else "duplicate"))
        return outcomes

    async def index_deliveries(self, deliveries: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        return self.index_deliveries_sync(deliveries)

    def index_deliveries_sync(self, deliveries: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """One row per (alert, destination, outcome); a later record of the same outcome (a
        dead letter replayed and failing again) replaces its time and attempts."""
        self.setup_sync()
        outcomes: list[IndexOutcome] = []
        with self.db.transaction() as conn:
            for record in deliveries:
                key = delivery_id(record)
                problem = delivery_problem(record)
                if problem is not None:
                    outcomes.append(IndexOutcome(key, "rejected", problem))
                    continue
                try:
                    conn.execute(
                        "INSERT INTO deliveries (alert_id, destination, outcome, at, doc) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (alert_id, destination, outcome) DO UPDATE SET at = excluded.at, "
                        "doc = excluded.doc",
                        (record["alert_id"], record["destination"], record["outcome"], record["at"],
                         json.dumps(record, ensure_ascii=False)),
                    )
                except _DOCUMENT_ERRORS as exc:
                    outcomes.append(IndexOutcome(key, "rejected", f"cannot be stored: {exc}"))
                    continue
                outcomes.append(IndexOutcome(key, "indexed"))
        return outcomes

    async def search(
        self,
        query: str,
        *,
        since: timedelta | None = None,
        until: datetime | None = None,
        limit: int = 20,
        stories_only: bool = False,
    ) -> list[SearchHit]:
        """:meth:`search_sync` in a worker thread on a read-only connection of its own.

        Cancelling the call (``asyncio.wait_for`` with a deadline, as the web page does)
        stops the thread at its next row or SQLite step: nothing runs on unobserved.
        """
        return await self._in_reader(functools.partial(
            self.search_sync, query, since=since, until=until, limit=limit, stories_only=stories_only))

    async def search_page(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 20,
        sort: Sort = "newest",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SearchPage:
        """:meth:`search_page_sync` in a worker thread, cancellable as :meth:`search`."""
        return await self._in_reader(functools.partial(
            self.search_page_sync, query, offset=offset, limit=limit, sort=sort, since=since, until=until))

    async def _in_reader(self, call: Callable[..., _T]) -> _T:
        """``call(conn=..., stop=...)`` in a worker thread on its own read-only connection."""
        self.setup_sync()
        if str(self.db.path) == ":memory:":  # a private database has no second connection
            return call()
        stop = threading.Event()

        def in_thread() -> _T:
            conn = self._reader()
            try:
                conn.set_progress_handler(stop.is_set, 1000)  # SQLite steps: a long sort stops too
                return call(conn=conn, stop=stop)
            finally:
                conn.close()

        try:
            return await asyncio.to_thread(in_thread)
        except asyncio.CancelledError:
            stop.set()
            raise

    def _reader(self) -> sqlite3.Connection:
        uri = f"{self.db.path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=10.0)

    def search_sync(
        self,
        query: str,
        *,
        since: timedelta | None = None,
        until: datetime | None = None,
        limit: int = 20,
        stories_only: bool = False,
        conn: sqlite3.Connection | None = None,
        stop: threading.Event | None = None,
    ) -> list[SearchHit]:
        """Newest first; FTS5 narrows candidates, the rule matcher decides (ES semantics).

        ``conn``: read there instead of the store's connection; ``stop``: once set, the
        search ends with :class:`SearchStopped` at the next row.
        """
        hits: list[SearchHit] = []
        if limit <= 0:
            return hits
        start = datetime.now(UTC) - since if since is not None else None
        for row in self._matching(query, start, until, stories_only, conn, stop):
            hits.append(SearchHit(row.id, row.published_at, row.doc))
            if len(hits) >= limit:
                break
        return hits

    def search_page_sync(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 20,
        sort: Sort = "newest",
        since: datetime | None = None,
        until: datetime | None = None,
        conn: sqlite3.Connection | None = None,
        stop: threading.Event | None = None,
    ) -> SearchPage:
        """Every match is looked at (the total is exact); only the page's documents are kept.

        ``relevance`` ranks by :meth:`wirewatch.search.highlight.QueryTerms.score` (the
        query's words in title and body, the title weighing 3), then newest; a query
        without words in the text (``source:x``) ranks newest first.
        """
        check_window(offset, limit)
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)} (got {sort!r})")
        from wirewatch.search.highlight import terms_of

        terms = terms_of(query) if sort == "relevance" else None
        window = offset + limit
        total = 0

        def counted() -> Iterator[Candidate]:
            nonlocal total
            for row in self._matching(query, since, until, False, conn, stop):
                total += 1
                yield row

        if terms is None:  # already newest first: keep the first `window`, count the rest
            rows = counted()
            ranked = list(itertools.islice(rows, window))
            collections.deque(rows, maxlen=0)  # the rest only counted
        else:
            from wirewatch.search.analysis import tokenize

            def relevance(row: Candidate) -> tuple[float, int]:
                doc = row.doc
                return terms.score(tokenize(doc.get("title") or ""), tokenize(doc.get("body") or "")), row.published_ms

            # nlargest keeps `window` rows, never every match; it is sorted(reverse=True)[:n], which keeps
            # the input order (newest, then id) among equal keys
            ranked = heapq.nlargest(window, counted(), key=relevance)
        page = ranked[offset:window]
        return SearchPage(total, [SearchHit(r.id, r.published_at, r.doc) for r in page])

    def _matching(
        self,
        query: str,
        since: datetime | None,
        until: datetime | None,
        stories_only: bool,
        conn: sqlite3.Connection | None,
        stop: threading.Event | None,
    ) -> Iterator[Candidate]:
        """Items matching ``query`` in the window, newest first: FTS5 narrows, the matcher decides."""
        self.setup_sync()
        from wirewatch.search.matcher import compile_query

        compiled = compile_query(query)
        if self._read_only and not self.has_items_table():  # a data folder nothing was stored in yet
            return
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("items.published_ms >= ?")
            params.append(int(since.timestamp() * 1000))
        if until is not None:
            where.append("items.published_ms <= ?")
            params.append(int(until.timestamp() * 1000))
        if stories_only:
            where.append("items.is_story = 1")
        columns, values = column_prefilter(compiled.node)
        where += columns
        params += values
        fts = fts_prefilter(compiled)
        sql = "SELECT items.id, items.published_at, items.published_ms, items.doc FROM items"
        if fts is not None:
            sql += " JOIN items_fts ON items_fts.rowid = items.seq"
            where.append("items_fts MATCH ?")
            params.append(fts)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY items.published_ms DESC, items.id ASC"
        try:
            rows = (conn or self.db.conn).execute(sql, params)
            for item_id, published_at, published_ms, doc_text in rows:
                if stop is not None and stop.is_set():
                    raise SearchStopped(query)
                doc = json.loads(doc_text)
                if matches(compiled, doc):
                    yield Candidate(item_id, published_at, published_ms, doc)
        except sqlite3.OperationalError:
            if stop is not None and stop.is_set():  # the progress handler interrupted SQLite
                raise SearchStopped(query) from None
            raise

    async def count(self) -> int:
        return self.count_sync()

    def count_sync(self) -> int:
        self.setup_sync()
        return int(self.db.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    # -- reads for the web page ------------------------------------------------
    def stories(self, limit: int = 30) -> list[dict[str, Any]]:
        """Newest stories, each with its first item and every other item folded under it."""
        self.setup_sync()
        story_ids = [
            r[0]
            for r in self.db.conn.execute(
                "SELECT story_id FROM items GROUP BY story_id ORDER BY MAX(published_ms) DESC, story_id DESC LIMIT ?",
                (limit,),
            )
        ]
        out: list[dict[str, Any]] = []
        for story_id in story_ids:
            docs = [
                json.loads(r[0])
                for r in self.db.conn.execute(
                    "SELECT doc FROM items WHERE story_id = ? ORDER BY published_ms, seq", (story_id,)
                )
            ]
            lead = next((d for d in docs if d["id"] == story_id), docs[0])
            # The newest revision's text leads (a corrected live-blog post shows its correction).
            out.append({"story_id": story_id, "lead": lead, "items": docs})
        return out

    def story_items(self, story_id: str) -> list[dict[str, Any]]:
        """Every item of a story (its lead and all folded into it), oldest first; [] if unknown."""
        self.setup_sync()
        rows = self.db.conn.execute(
            "SELECT doc FROM items WHERE story_id = ? ORDER BY published_ms, seq", (story_id,)
        )
        return [json.loads(doc) for (doc,) in rows]

    def event_items(self, event_id: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        """(the id the event lives on as, the merges into it, its items oldest first).

        An id merged away leads to the event it went into; the items are those of that id and
        of every id merged into it (items keep the id they were emitted with)."""
        self.setup_sync()
        conn = self.db.conn
        current = event_id
        for _ in range(EVENT_HOPS):
            row = conn.execute("SELECT new FROM event_merges WHERE old = ?", (current,)).fetchone()
            if row is None:
                break
            current = row[0]
        ids, merges, frontier = [current], [], [current]
        while frontier:
            for old, new, item_id, at in conn.execute(
                    "SELECT old, new, item_id, at FROM event_merges WHERE new = ? ORDER BY at, old", (frontier.pop(),)):
                if old not in ids:
                    ids.append(old)
                    frontier.append(old)
                    merges.append({"old": old, "new": new, "item_id": item_id, "at": at})
        items: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            items.extend(json.loads(doc) for (doc,) in conn.execute(
                f"SELECT doc FROM items WHERE json_extract(doc, '$.event_id') IN ({','.join('?' * len(chunk))}) "
                "ORDER BY published_ms, seq", chunk))
        items.sort(key=lambda d: to_millis(d["published_at"]))  # stable: stored order within a time
        return current, merges, items

    def revisions(self, item_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Item id -> its stored revisions (``revision``, ``title``, ``excerpt``, ``updated_at``), in order.

        Items indexed before the revision table existed have none.
        """
        self.setup_sync()
        out: dict[str, list[dict[str, Any]]] = {item_id: [] for item_id in item_ids}
        ids = list(out)
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            rows = self.db.conn.execute(
                "SELECT item_id, revision, title, excerpt, updated_at FROM item_revisions "
                f"WHERE item_id IN ({','.join('?' * len(chunk))}) ORDER BY item_id, revision",
                chunk,
            )
            for item_id, revision, title, excerpt, updated_at in rows:
                out[item_id].append(
                    {"revision": revision, "title": title, "excerpt": excerpt, "updated_at": updated_at})
        return out

    def story_alerts(self, story_id: str) -> list[dict[str, Any]]:
        """The alerts stored for a story, oldest first, each with its ``deliveries`` (as in alert_history)."""
        self.setup_sync()
        alerts = [json.loads(doc) for (doc,) in self.db.conn.execute(
            "SELECT doc FROM alerts WHERE story_id = ? ORDER BY matched_at, seq", (story_id,))]
        for alert in alerts:
            alert["deliveries"] = [
                delivery_view(json.loads(doc)) for (doc,) in self.db.conn.execute(
                    "SELECT doc FROM deliveries WHERE alert_id = ? ORDER BY at, destination", (alert["id"],))
            ]
        return alerts

    def alerts_after(self, after_seq: int = 0, limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
        """Alerts stored after ``after_seq``, oldest first: what the page polls for."""
        self.setup_sync()
        rows = self.db.conn.execute(
            "SELECT seq, doc FROM alerts WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        return [(int(seq), json.loads(doc)) for seq, doc in rows]

    def recent_alerts(self, limit: int = 20) -> list[tuple[int, dict[str, Any]]]:
        self.setup_sync()
        rows = self.db.conn.execute("SELECT seq, doc FROM alerts ORDER BY seq DESC LIMIT ?", (limit,))
        return [(int(seq), json.loads(doc)) for seq, doc in rows]

    def alert_history(self, limit: int = 50, offset: int = 0, rule: str | None = None) -> list[dict[str, Any]]:
        """Stored alerts newest first (the order they were stored), each with ``deliveries``:
        ``[{destination, outcome, at, attempts?}]`` in time order. The alert-history page."""
        self.setup_sync()
        where, params = ("WHERE rule = ?", [rule]) if rule is not None else ("", [])
        rows = self.db.conn.execute(
            f"SELECT doc FROM alerts {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, max(limit, 0), max(offset, 0)),
        ).fetchall()
        alerts = [json.loads(doc) for (doc,) in rows]
        by_alert: dict[str, list[dict[str, Any]]] = {a["id"]: [] for a in alerts}
        ids = list(by_alert)
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for (doc,) in self.db.conn.execute(
                f"SELECT doc FROM deliveries WHERE alert_id IN ({marks}) ORDER BY at, destination",
                chunk,
            ):
                by_alert[json.loads(doc)["alert_id"]].append(delivery_view(json.loads(doc)))
        return [{**alert, "deliveries": by_alert[alert["id"]]} for alert in alerts]

    def alert_total(self, rule: str | None = None) -> int:
        """Alerts stored (of ``rule``): the count the page and the status line show."""
        self.setup_sync()
        where, params = ("WHERE rule = ?", (rule,)) if rule is not None else ("", ())
        return int(self.db.conn.execute(f"SELECT COUNT(*) FROM alerts {where}", params).fetchone()[0])

    def delivery_counts(self) -> dict[str, int]:
        """Delivery records by outcome (``delivered`` = webhooks the destinations accepted)."""
        self.setup_sync()
        rows = self.db.conn.execute("SELECT outcome, COUNT(*) FROM deliveries GROUP BY outcome")
        return {str(outcome): int(n) for outcome, n in rows}

    def story_count(self) -> int:
        self.setup_sync()
        return int(self.db.conn.execute("SELECT COUNT(DISTINCT story_id) FROM items").fetchone()[0])


def _keep_revision(conn: sqlite3.Connection, item_id: str, revision: int, item: dict[str, Any]) -> None:
    """Record one revision of an item in ``item_revisions`` (a replay of it changes nothing)."""
    body = " ".join(str(item.get("body", "")).split())
    excerpt = body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…"
    conn.execute(
        "INSERT INTO item_revisions (item_id, revision, title, excerpt, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (item_id, revision) DO NOTHING",
        (item_id, revision, str(item.get("title", "")), excerpt, item.get("updated_at") or item["published_at"]),
    )


def fts_text(fields: dict[str, Any]) -> str:
    """The normalised search fields as one text for FTS5 (one value per line)."""
    lines: list[str] = []
    for value in fields.values():
        lines.extend(value if isinstance(value, list) else [value])
    return "\n".join(str(v) for v in lines if v)


def matches(compiled: Any, doc: dict[str, Any]) -> bool:
    """The rule matcher's verdict on a stored document (the one definition of a hit)."""
    from wirewatch.search.matcher import prepare

    return bool(compiled.matches(prepare(doc)))


#: A ``now``-relative bound is read here a moment before the matcher reads it for each row:
#: the column condition is widened by a minute (and fixed bounds by a millisecond, for the
#: float rounding of to_millis); it only narrows the rows, the matcher decides.
_NOW_SLACK_MS, _FIXED_SLACK_MS = 60_000, 1
#: field key -> the items column holding the same value (computed as the matcher computes it)
_COLUMNS = {"=id": "id", "=story_id": "story_id", "=dedupe.status": "status", "=is_story": "is_story"}


def column_prefilter(node: Any) -> tuple[list[str], list[Any]]:
    """SQL conditions on indexed columns that every item matching ``node`` meets: its required
    (MUST) clauses on published_at (a range on ``published_ms``), story_id, id, dedupe.status and
    is_story. A time filter, a story or a verdict then reads only its rows, not every item.

    20,000 items: ``published_at:[now-1h TO now]`` 292 -> 5 ms, ``story_id:"x"`` 163 -> 0.1 ms
    (``python -m bench.sqlite_prefilter``, shared 2-core machine);
    tests/sinks/test_sqlite_prefilter.py::test_required_columns_narrow_the_rows_the_matcher_reads
    """
    from wirewatch.search.datemath import now_millis
    from wirewatch.search.query import BooleanNode, Occur, Range, Term, date_bound

    where: list[str] = []
    params: list[Any] = []

    def required(n: Any) -> None:
        if isinstance(n, BooleanNode):
            for clause in n.clauses:  # SHOULD clauses are optional beside a MUST, alone any one does
                if clause.occur is Occur.MUST:
                    required(clause.node)
        elif isinstance(n, Range) and n.field == "=published_at":
            now = now_millis()
            if n.lower is not None:
                bound = date_bound(n.lower)
                slack = _NOW_SLACK_MS if bound.relative else _FIXED_SLACK_MS
                where.append("items.published_ms >= ?")
                params.append(bound.millis(not n.include_lower, now) - slack)
            if n.upper is not None:
                bound = date_bound(n.upper)
                slack = _NOW_SLACK_MS if bound.relative else _FIXED_SLACK_MS
                where.append("items.published_ms <= ?")
                params.append(bound.millis(n.include_upper, now) + slack)
        elif isinstance(n, Term) and n.field in _COLUMNS:
            where.append(f"items.{_COLUMNS[n.field]} = ?")
            params.append(int(n.tokens[0] == "true") if n.field == "=is_story" else n.tokens[0])

    required(node)
    return where, params


def fts_prefilter(compiled: Any) -> str | None:
    """An FTS5 expression every item the query matches satisfies, or None to scan everything.

    It is the rule index's anchor set (:func:`wirewatch.search.matcher.anchors_of`:
    an item can only match holding one of these tokens or prefixes). Only plain
    ASCII alphanumeric anchors are exactly FTS5 tokens; an anchor in another script
    goes as a phrase when FTS5 finds tokens in it (:func:`_fts_phrase`); an anchor it
    can't read (an emoji) means no pre-filter and the matcher alone decides.
    """
    anchors = compiled.anchors
    if anchors is None:
        return None
    alternatives: list[str] = []
    for word, star in [*((t, "") for t in sorted(anchors.tokens)), *((p, "*") for p in sorted(anchors.prefixes))]:
        phrase = f'"{word}"{star}' if _FTS_WORD.fullmatch(word) else _fts_phrase(word, star)
        if phrase is None:
            return None
        alternatives.append(phrase)
    return " OR ".join(alternatives) if alternatives else None


_PROBE = sqlite3.connect(":memory:", check_same_thread=False)
_PROBE.execute(f"CREATE VIRTUAL TABLE probe USING fts5(text, tokenize = '{_FTS_TOKENIZER}')")
_PROBE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4096)
def _fts_phrase(word: str, star: str) -> str | None:
    """The FTS5 phrase for an anchor in any script (Cyrillic, Han, Thai, ``u.s.a``...), or None.

    In the indexed text every normalised token stands between spaces, so FTS5 splits
    it there exactly as it splits the anchor alone: the anchor's phrase finds every
    item holding it, unless FTS5 sees no token in it at all (emoji are separators
    to unicode61). A probe table tells, with the store's own tokenizer.
    """
    phrase = '"' + word.replace('"', '""') + '"' + star
    with _PROBE_LOCK:
        _PROBE.execute("INSERT INTO probe (rowid, text) VALUES (1, ?)", (word,))
        try:
            found = _PROBE.execute("SELECT 1 FROM probe WHERE probe MATCH ?", (phrase,)).fetchone()
        except sqlite3.OperationalError:
            found = None
        finally:
            _PROBE.execute("DELETE FROM probe")
    return phrase if found else None
