"""Incremental state per source: what was emitted (id -> content hash, revision), ETag/Last-Modified.

Semantics (the poller's contract):

* new id -> emitted with ``revision`` 1;
* known id, different ``content_hash`` (an edited post) -> emitted again with
  the same ``id``, ``revision`` + 1;
* known id, same hash -> not emitted;
* an id missing from the latest fetch (removed post, or one that scrolled out
  of the feed) emits nothing: the raw-item contract has no deletion. Its
  entry is kept for :data:`RETAIN_SECONDS` so a post that flaps back is not
  re-sent, then pruned.

Forgetting is by last-seen time: every id present in the latest fetch is kept,
whatever the feed's size (so an unchanged item is never emitted twice; the
fetch's ``max_bytes`` bounds the feed), and of the ids no longer in the feed at
most :data:`MAX_ABSENT` are kept, the least recently seen forgotten first.

Full-text pages (:mod:`wirewatch.pollers.rechecks`): per item whose linked page was
fetched, a :class:`PageState` (the page's ETag/Last-Modified, a hash of its extracted
text, when it was first fetched and last checked), at most :data:`MAX_PAGES` per
source and none older than the re-check window.

State is planned (:meth:`SourceState.plan`) as a new value and only saved
after the items were durably published, so a crash re-emits, never skips.

Where it lives, behind one small :class:`StateStore` protocol:

* :class:`DirectoryStateStore` - one JSON file per source, written atomically
  (temp file + fsync + rename). ``wirewatch poll --once --state DIR``.
* :class:`KafkaStateStore` - the compacted ``<prefix>.poller-state`` topic, key
  = source id, value = this JSON. Chosen for multi-instance deployments: it
  needs no extra datastore, compaction keeps exactly the latest state per
  source, and its partitions double as the unit of source ownership (see
  :mod:`wirewatch.pollers.group`): the member that owns a partition owns the
  sources hashed to it and reads their state from that partition.
* Embedded mode can back the protocol with SQLite.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import json
import os
import tempfile
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from wirewatch.bus.base import Publisher
from wirewatch.core.logging import get_logger

log = get_logger("pollers.state")

RETAIN_SECONDS = 30 * 86400.0
MAX_ABSENT = 5000
"""Entries of ids gone from the feed kept per source (on top of every id in the feed)."""
FORMAT_VERSION = 1
HASH_CHARS = 16
"""Hex digits of ``content_hash`` kept: 64 bits tell an edit apart; the compressed state is 2.4x smaller."""
MAX_PAGES = 500
"""Article pages remembered per source for re-checks (the most recently first fetched)."""
MAX_MESSAGE_BYTES = 1_000_000
"""A state must fit one Kafka message (the broker's default limit is 1,048,588 bytes)."""


@dataclass(frozen=True)
class EntryState:
    hash: str
    revision: int
    seen: float
    """Epoch seconds the entry was last present in the source."""


@dataclass(frozen=True)
class PageState:
    """An item's linked page as last fetched: what a re-check sends and compares."""

    etag: str | None
    last_modified: str | None
    text_hash: str
    """Hash of the extracted text as the search index sees it (:func:`~wirewatch.pollers.rechecks.text_hash`)."""
    first: float
    """Epoch seconds the page was first fetched: re-checks stop a window after it."""
    checked: float
    """Epoch seconds of the last fetch or re-check."""

    def to_json(self) -> list[Any]:
        return [self.etag, self.last_modified, self.text_hash, self.first, self.checked]

    @classmethod
    def from_json(cls, value: Any) -> PageState:
        etag, last_modified, digest, first, checked = value
        return cls(
            None if etag is None else str(etag),
            None if last_modified is None else str(last_modified),
            str(digest),
            float(first),
            float(checked),
        )


@dataclass(frozen=True)
class SourceState:
    """Immutable: :meth:`plan` returns the next state instead of mutating this one."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    entries: dict[str, EntryState] = field(default_factory=dict)
    saved_at: float = 0.0
    pages: dict[str, PageState] = field(default_factory=dict)
    """Item id -> its full-text page, for re-checks (bounded: :meth:`with_pages`)."""

    def plan(
        self,
        items: list[dict[str, Any]],
        *,
        etag: str | None,
        last_modified: str | None,
        now: float | None = None,
    ) -> tuple[list[dict[str, Any]], SourceState]:
        """Items to emit (with ``revision``) and the state to save once they are published."""
        now = time.time() if now is None else now
        entries = dict(self.entries)
        emitted: list[dict[str, Any]] = []
        seen_now: set[str] = set()
        for item in items:
            item_id = item["id"]
            if item_id in seen_now:
                continue  # a document repeating an id: the first one wins
            seen_now.add(item_id)
            known = entries.get(item_id)
            digest = item["content_hash"][:HASH_CHARS]
            if known is not None and known.hash == digest:
                entries[item_id] = replace(known, seen=now)
                continue
            revision = 1 if known is None else known.revision + 1
            emitted.append({**item, "revision": revision})
            entries[item_id] = EntryState(digest, revision, now)
        return emitted, SourceState(
            self.source_id,
            etag,
            last_modified,
            _prune(entries, seen_now, now),
            saved_at=now,
            pages=self.pages,
        )

    def revise(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], SourceState]:
        """``items`` (known ids whose article page changed) with ``revision`` + 1, and the state.

        The entry's hash stays the feed entry's: only the page changed, so the next poll of
        the same feed emits nothing.
        """
        entries = dict(self.entries)
        revised: list[dict[str, Any]] = []
        for item in items:
            known = entries.get(item["id"])
            if known is None:
                continue
            entries[item["id"]] = replace(known, revision=known.revision + 1)
            revised.append({**item, "revision": known.revision + 1})
        return revised, replace(self, entries=entries)

    def with_pages(
        self, updates: dict[str, PageState], *, present: set[str], window: float, now: float
    ) -> SourceState:
        """The state with ``updates``; pages first fetched over ``window`` seconds ago, of ids
        not ``present`` in the source's latest document (nothing to re-emit: a page kept for
        them would stay due, and keep the feed from being asked conditionally), or beyond the
        :data:`MAX_PAGES` most recent, are forgotten."""
        merged = {**self.pages, **updates}
        kept = [
            (key, page)
            for key, page in merged.items()
            if key in present and key in self.entries and now - page.first <= window
        ]
        if len(kept) > MAX_PAGES:
            kept = heapq.nlargest(MAX_PAGES, kept, key=lambda kv: kv[1].first)
        return replace(self, pages=dict(kept))

    def with_validators(self, etag: str | None, last_modified: str | None) -> SourceState:
        return replace(self, etag=etag, last_modified=last_modified, saved_at=time.time())

    def fold(self, item: dict[str, Any]) -> SourceState:
        """Account for an item found already published (log recovery after a crash)."""
        known = self.entries.get(item["id"])
        revision = int(item.get("revision", 1))
        if known is not None and known.revision >= revision:
            return self
        entries = dict(self.entries)
        digest = str(item.get("content_hash", ""))[:HASH_CHARS]
        entries[item["id"]] = EntryState(digest, revision, time.time())
        return replace(self, entries=entries)

    def to_json(self, *, compress: bool = False) -> dict[str, Any]:
        """The stored form; ``compress`` puts the entries in ``entries_z`` (base64 of zlib JSON).

        Compressed, about 32,000 entries with 80-character URL ids fit one Kafka message.
        """
        entries = {k: [e.hash, e.revision, e.seen] for k, e in self.entries.items()}
        pages = {k: page.to_json() for k, page in self.pages.items()}
        data: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "source": self.source_id,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "saved_at": self.saved_at,
        }
        if compress:
            packed = zlib.compress(json.dumps(entries, separators=(",", ":")).encode(), 6)
            data["entries_z"] = base64.b64encode(packed).decode("ascii")
            if pages:
                packed = zlib.compress(json.dumps(pages, separators=(",", ":")).encode(), 6)
                data["pages_z"] = base64.b64encode(packed).decode("ascii")
        else:
            data["entries"] = entries
            if pages:
                data["pages"] = pages
        return data

    @classmethod
    def from_json(cls, data: Any, source_id: str) -> SourceState:
        """Parse a stored state; anything unreadable raises ``ValueError``."""
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            raise ValueError("not a poller state (unknown format)")
        try:
            stored = data.get("entries")
            if "entries_z" in data:
                stored = json.loads(zlib.decompress(base64.b64decode(data["entries_z"])))
            entries = {
                str(k): EntryState(str(v[0])[:HASH_CHARS], int(v[1]), float(v[2]))
                for k, v in (stored or {}).items()
            }
            stored_pages = data.get("pages")
            if "pages_z" in data:
                stored_pages = json.loads(zlib.decompress(base64.b64decode(data["pages_z"])))
            pages = {str(k): PageState.from_json(v) for k, v in (stored_pages or {}).items()}
            return cls(
                source_id,
                data.get("etag"),
                data.get("last_modified"),
                entries,
                float(data.get("saved_at") or 0.0),
                pages,
            )
        except (TypeError, ValueError, IndexError, AttributeError, zlib.error) as exc:
            raise ValueError(f"corrupt poller state: {exc}") from None


def _prune(
    entries: dict[str, EntryState], present: set[str], now: float
) -> dict[str, EntryState]:
    """Keep every id in the feed; of the others, the :data:`MAX_ABSENT` most recently seen."""
    absent = [
        (key, entry)
        for key, entry in entries.items()
        if key not in present and now - entry.seen <= RETAIN_SECONDS
    ]
    if len(absent) > MAX_ABSENT:
        absent = heapq.nlargest(MAX_ABSENT, absent, key=lambda kv: kv[1].seen)
    kept = {key: entry for key, entry in entries.items() if key in present}
    kept.update(absent)
    return kept


class StateStore(Protocol):
    """Where source states persist. ``save`` returns only once the state is durable."""

    async def load(self, source_id: str) -> SourceState: ...

    async def save(self, state: SourceState) -> None: ...


class MemoryStateStore:
    """Source states in a dict, for one process: tests and benchmarks that poll without a disk."""

    def __init__(self) -> None:
        self.states: dict[str, SourceState] = {}

    async def load(self, source_id: str) -> SourceState:
        return self.states.get(source_id) or SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        self.states[state.source_id] = state


class DirectoryStateStore:
    """One ``<quoted source id>.json`` per source under ``root``, replaced atomically."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, source_id: str) -> Path:
        return self.root / f"{quote(source_id, safe='')}.json"

    async def load(self, source_id: str) -> SourceState:
        return await asyncio.to_thread(self._load, source_id)

    def _load(self, source_id: str) -> SourceState:
        path = self.path(source_id)
        try:
            return SourceState.from_json(json.loads(path.read_text("utf-8")), source_id)
        except FileNotFoundError:
            return SourceState(source_id)
        except (OSError, ValueError) as exc:
            log.warning("state_unreadable", source=source_id, path=str(path), reason=str(exc))
            return SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        await asyncio.to_thread(self._save, state)

    def _save(self, state: SourceState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(state.source_id)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state.to_json(), handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class KafkaStateStore:
    """States in a compacted topic: written through a Publisher, read into a cache.

    The cache is filled by whoever reads the topic (the consumer-group member
    in :mod:`wirewatch.pollers.group`) via :meth:`apply`; a source not in the
    cache starts empty.
    """

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher = publisher
        self.topic = topic
        self._cache: dict[str, SourceState] = {}

    def apply(self, source_id: str, value: Any) -> None:
        """Take a record read from the topic (``None`` = tombstone)."""
        if value is None:
            self._cache.pop(source_id, None)
            return
        try:
            state = SourceState.from_json(value, source_id)
        except ValueError as exc:
            log.warning("state_unreadable", source=source_id, reason=str(exc))
            return
        current = self._cache.get(source_id)
        if current is None or state.saved_at >= current.saved_at:
            self._cache[source_id] = state

    def cached(self, source_id: str) -> SourceState | None:
        return self._cache.get(source_id)

    def forget(self, source_ids: set[str]) -> None:
        for source_id in source_ids:
            self._cache.pop(source_id, None)

    def put(self, state: SourceState) -> None:
        """Replace the cached state without writing (log recovery)."""
        self._cache[state.source_id] = state

    async def load(self, source_id: str) -> SourceState:
        return self._cache.get(source_id) or SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        # compressing a large state takes a fraction of a second: off the event loop
        state, value = await asyncio.to_thread(fit_message, state)
        await self.publisher.publish(self.topic, value, key=state.source_id)
        self._cache[state.source_id] = state


def fit_message(
    state: SourceState, limit: int = MAX_MESSAGE_BYTES
) -> tuple[SourceState, dict[str, Any]]:
    """``state`` and its compressed form, or as much of it as fits one Kafka message.

    The least recently seen entries go first. Without this a state over the limit would
    fail to publish for ever (the source stuck); trimmed, the ids dropped may be emitted
    again, and one warning says so.
    """
    value = state.to_json(compress=True)
    size = _size(value, state)
    if size <= limit:
        return state, value
    ranked = sorted(state.entries.items(), key=lambda kv: kv[1].seen, reverse=True)
    # entries compress alike: start from the proportional share, step down until it fits
    kept = int(len(ranked) * limit / size * 0.95)
    while True:
        trimmed = replace(state, entries=dict(ranked[:kept]))
        value = trimmed.to_json(compress=True)
        if kept == 0 or _size(value, trimmed) <= limit:
            break
        kept = int(kept * 0.9)
    log.warning(
        "state_trimmed",
        source=state.source_id,
        entries=len(ranked),
        kept=kept,
        reason=f"the state does not fit one Kafka message ({limit:,} bytes): the {len(ranked) - kept:,} "
        "least recently seen ids are forgotten and may be emitted again",
    )
    return trimmed, value


def _size(value: dict[str, Any], state: SourceState) -> int:
    """Bytes of the message: the JSON value and the key."""
    return len(json.dumps(value, separators=(",", ":"))) + len(state.source_id.encode())
