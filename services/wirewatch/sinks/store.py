"""The item store interface: Elasticsearch in production, SQLite FTS5 embedded.

The indexer, ``wirewatch search`` and ``wirewatch rules backtest`` talk to
this protocol only, so both stores answer the same Lucene query syntax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from wirewatch.core.times import parse_rfc3339

#: Elasticsearch maps ``revision`` as ``integer`` (and uses it as the external version): the
#: largest revision either store keeps, so both reject the same documents.
MAX_REVISION = 2**31 - 1
#: the timestamps each store turns into dates (sort keys, monthly indices, ``date`` fields)
ITEM_TIMES = ("published_at", "updated_at", "fetched_at", "processed_at")
ALERT_TIMES = ("published_at", "matched_at")
DELIVERY_TIMES = ("at",)



class StoreUnavailable(Exception):
    """The store cannot be reached right now: retry the whole batch later (nothing is committed)."""


@dataclass(frozen=True)
class IndexOutcome:
    """What happened to one document: stored, skipped as an older replay, or rejected.

    ``duplicate``: an alert whose id is already stored; the first record is kept (an alert is
    the immutable record of what was sent), so the later one is counted, not stored.
    """

    id: str
    status: Literal["indexed", "stale", "duplicate", "rejected"]
    reason: str | None = None


def unstorable_reason(doc: Mapping[str, Any], times: Sequence[str]) -> str | None:
    """Why a schema-valid document can't be stored (one line), or None.

    The store boundary's own check, shared by both stores so they reject the same documents
    per document instead of failing the batch: timestamps that are no real date, and a
    revision beyond :data:`MAX_REVISION` (the contract only says ``>= 1``).
    """
    for name in times:
        stamp = doc.get(name)
        if isinstance(stamp, str):
            try:
                parse_rfc3339(stamp)
            except ValueError as exc:
                return f"{name} {stamp[:40]} is not a real date ({exc})"
    revision = doc.get("revision", 1)
    # a JSON decoder may hand a huge integer over as a float (orjson: 1e+30); the schema still calls it an integer
    if isinstance(revision, int | float) and not isinstance(revision, bool) and not 1 <= revision <= MAX_REVISION:
        shown = str(revision) if len(str(revision)) <= 40 else f"{str(revision)[:37]}..."
        return f"revision {shown} is out of range (1 to {MAX_REVISION})"
    return None


def delivery_id(record: Mapping[str, Any]) -> str:
    """A delivery record's identity in either store: one per alert, destination and outcome."""
    return f"{record.get('destination', '')}|{record.get('alert_id', '')}|{record.get('outcome', '')}"


def delivery_problem(record: Any) -> str | None:
    """Why a delivery record can't be stored (schema, no alert id or destination, bad time), or None."""
    from wirewatch.core.errors import SchemaError
    from wirewatch.core.schemas import validate

    try:
        validate("delivery", record)
    except SchemaError as exc:
        return str(exc)
    except UnicodeError as exc:  # jsonschema-rs on a lone surrogate
        return f"not a valid delivery: {exc}"
    missing = [name for name in ("alert_id", "destination") if not record.get(name)]
    if missing:
        return f"delivery without {' and '.join(missing)}"
    return unstorable_reason(record, DELIVERY_TIMES)


def delivery_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What ``alert_history`` lists of one delivery: destination, outcome, at (attempts, and
    why/until a muted one was held back, if known)."""
    view = {name: record[name] for name in ("destination", "outcome", "at") if name in record}
    for name in ("attempts", "muted"):
        if name in record:
            view[name] = record[name]
    return view


@dataclass(frozen=True)
class SearchHit:
    id: str
    published_at: str
    document: dict[str, Any]


#: How a page of hits is ordered: newest ``published_at`` first, or best match first.
Sort = Literal["newest", "relevance"]
SORTS: tuple[Sort, ...] = ("newest", "relevance")
#: The deepest hit a paged search reaches (offset + limit): Elasticsearch's default
#: ``index.max_result_window``; the SQLite store keeps the same bound, so both page alike.
MAX_WINDOW = 10_000


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: ``total`` items match, ``hits`` are those from the requested offset."""

    total: int
    hits: list[SearchHit]


def check_window(offset: int, limit: int) -> None:
    """A page both stores can serve, or a ``ValueError`` saying why not."""
    if offset < 0 or limit < 0:
        raise ValueError(f"offset and limit must be 0 or more (got {offset}, {limit})")
    if offset + limit > MAX_WINDOW:
        raise ValueError(f"results beyond the first {MAX_WINDOW:,} are not served; narrow the search")


class ItemStore(Protocol):
    async def setup(self) -> None:
        """Create indices/tables and templates if missing (idempotent)."""

    async def close(self) -> None: ...

    async def index_items(self, items: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Store processed items (schemas/processed_item.json); replays never duplicate."""
        ...

    async def index_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Store alerts (schemas/alert.json), keyed by alert id: the first one is kept (``duplicate``)."""
        ...

    async def index_deliveries(self, deliveries: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Store delivery records (schemas/delivery.json, with ``alert_id`` and ``destination``)."""
        ...

    async def search(
        self,
        query: str,
        *,
        since: timedelta | None = None,
        until: datetime | None = None,
        limit: int = 20,
        stories_only: bool = False,
    ) -> list[SearchHit]:
        """Items matching a Lucene query string, newest ``published_at`` first."""
        ...

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
        """Hits ``offset`` to ``offset + limit`` of a Lucene query and how many match in all.

        ``sort``: ``newest`` (``published_at`` descending, then id) or ``relevance`` (the
        store's score, then newest); ``since``/``until`` bound ``published_at`` (inclusive).
        ``offset + limit`` beyond :data:`MAX_WINDOW` is a ``ValueError``.
        """
        ...

    async def count(self) -> int:
        """Number of items stored."""
        ...
