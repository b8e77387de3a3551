"""The item store interface: Elasticsearch in production, SQLite FTS5 embedded.

The indexer, ``wirewatch search`` and ``wirewatch rules backtest`` talk to
this protocol only, so both stores answer the same Lucene query syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol


class StoreUnavailable(Exception):
    """The store cannot be reached right now: retry the whole batch later (nothing is committed)."""


@dataclass(frozen=True)
class IndexOutcome:
    """What happened to one document: stored, skipped as an older replay, or rejected."""

    id: str
    status: Literal["indexed", "stale", "rejected"]
    reason: str | None = None


@dataclass(frozen=True)
class SearchHit:
    id: str
    published_at: str
    document: dict[str, Any]


class ItemStore(Protocol):
    async def setup(self) -> None:
        """Create indices/tables and templates if missing (idempotent)."""

    async def close(self) -> None: ...

    async def index_items(self, items: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Store processed items (schemas/processed_item.json); replays never duplicate."""
        ...

    async def index_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Store alerts (schemas/alert.json), keyed by alert id."""
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

    async def count(self) -> int:
        """Number of items stored."""
        ...
