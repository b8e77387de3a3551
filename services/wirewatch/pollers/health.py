"""Source health: is each source answering, and is it publishing as often as it usually does?

:class:`SourceHealth` is fed by the :class:`~wirewatch.pollers.poller.Poller` on every poll
outcome (:meth:`SourceHealth.succeeded`, :meth:`~SourceHealth.not_modified`,
:meth:`~SourceHealth.failed`) and read by the console's ``/sources`` page, the terminal view
of ``wirewatch run`` (:meth:`SourceHealth.snapshot`) and Prometheus (the
``wirewatch_poller_*`` gauges of :mod:`wirewatch.core.metrics`).

What is measured, per source:

* ``last_poll_at`` / ``last_success_at``: any poll that ended / one that got a document
  (a ``304 Not Modified`` counts as a success: the source answered);
* ``consecutive_failures`` and ``last_error`` (one line; kept after recovery, with its time);
* ``last_new_item_at``: the publication time of the newest item the source has shown (its
  ``published_at``, never later than the poll); an item without a date of its own
  (``published_at`` equal to ``fetched_at``) counts at the poll that first emitted it;
* ``usual_gap``: the median gap between the source's :data:`RECENT_ITEMS` most recent
  item times (distinct), at least the source's poll interval (new items cannot be seen
  more often than that), unknown until there are :data:`MIN_GAPS` gaps;
* ``staleness`` = time since ``last_new_item_at`` / ``usual_gap``: about 1 for a source
  keeping its rhythm, :data:`QUIET_RATIO` or more for one gone quiet.

Item times come from every item of each fetched document, not only the new ones, so a
source's rhythm is known from its first successful poll, also after a restart.

Persistence: given a ``store`` (``wirewatch run`` passes the data folder's SQLite
``source-health`` namespace), each source's record is written on every poll outcome and
read back on start, so failures, last success and item times survive a restart. Without
one (the scale-out ``wirewatch poller``, whose sources move between instances) health is in
memory and the gauges are the lasting record.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from wirewatch.core import metrics
from wirewatch.core.logging import get_logger
from wirewatch.core.times import parse_rfc3339
from wirewatch.pollers.config import Source

log = get_logger("pollers.health")

RECENT_ITEMS = 21
"""Item times kept per source: 20 gaps for the median."""
MIN_GAPS = 2
"""Gaps needed before a usual gap (and so a staleness) is given."""
QUIET_RATIO = 3.0
"""Staleness from which a source counts as quiet: three usual gaps without a new item."""
MAX_ERROR_CHARS = 300
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceStatus:
    """One source's health at one moment (times are epoch seconds, ``None`` = not yet)."""

    source_id: str
    name: str
    url: str
    interval: float | None
    last_poll_at: float | None
    last_success_at: float | None
    last_new_item_at: float | None
    consecutive_failures: int
    last_error: str | None
    last_error_at: float | None
    items_seen: int
    """New items (first revisions) emitted since health was first recorded."""
    usual_gap: float | None
    staleness: float | None

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0

    @property
    def quiet(self) -> bool:
        return self.staleness is not None and self.staleness >= QUIET_RATIO


@dataclass
class _Record:
    """The mutable per-source state behind a :class:`SourceStatus`."""

    name: str = ""
    url: str = ""
    interval: float | None = None
    last_poll_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    items_seen: int = 0
    recent: dict[str, float] = field(default_factory=dict)
    """Item id -> item time, the :data:`RECENT_ITEMS` newest."""

    def to_json(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "last_poll_at": self.last_poll_at,
            "last_success_at": self.last_success_at,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "items_seen": self.items_seen,
            "recent": self.recent,
        }

    def restore(self, data: Any) -> None:
        """Take a stored record; anything unreadable raises ``ValueError``."""
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            raise ValueError("not a source health record")
        try:
            self.last_poll_at = _float(data.get("last_poll_at"))
            self.last_success_at = _float(data.get("last_success_at"))
            self.consecutive_failures = int(data.get("consecutive_failures") or 0)
            self.last_error = data.get("last_error")
            self.last_error_at = _float(data.get("last_error_at"))
            self.items_seen = int(data.get("items_seen") or 0)
            self.recent = {str(k): float(v) for k, v in (data.get("recent") or {}).items()}
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"corrupt source health record: {exc}") from None

    def last_new_item_at(self) -> float | None:
        return max(self.recent.values()) if self.recent else None

    def usual_gap(self) -> float | None:
        times = sorted(set(self.recent.values()))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if len(gaps) < MIN_GAPS:
            return None
        return max(statistics.median(gaps), self.interval or 0.0)

    def staleness(self, now: float) -> float | None:
        last, gap = self.last_new_item_at(), self.usual_gap()
        if last is None or gap is None or gap <= 0:
            return None
        return max(0.0, now - last) / gap


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def one_line(text: str) -> str:
    """An error as one line of at most :data:`MAX_ERROR_CHARS` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def item_times(
    items: Iterable[Mapping[str, Any]], emitted: Iterable[Mapping[str, Any]], polled_at: float
) -> dict[str, float]:
    """Item id -> item time for a fetched document's raw ``items`` (see the module docstring).

    ``emitted`` are the items this poll published; an undated one counts at ``polled_at``.
    """
    new_ids = {str(i["id"]) for i in emitted if int(i.get("revision", 1)) == 1}
    times: dict[str, float] = {}
    for item in items:
        item_id = str(item["id"])
        published, fetched = item.get("published_at"), item.get("fetched_at")
        if published and published != fetched:
            try:
                times[item_id] = min(parse_rfc3339(str(published)).timestamp(), polled_at)
            except (ValueError, OverflowError):
                pass
            else:
                continue
        if item_id in new_ids:
            times[item_id] = polled_at
    return times


class SourceHealth:
    """Health of every polled source; the poller calls the hooks, readers take a :meth:`snapshot`.

    ``clock`` gives "now" for snapshots and gauges (tests pass explicit times instead).
    """

    def __init__(
        self,
        sources: Iterable[Source] = (),
        *,
        store: MutableMapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        export: bool = True,
    ) -> None:
        self.store = store
        self.clock = clock
        self.export = export
        self._records: dict[str, _Record] = {}
        self._exported: set[str] = set()
        self._store_failed = False
        for source in sources:
            self.register(source)

    # --- sources ---------------------------------------------------------------------------

    def register(self, source: Source) -> None:
        """Know ``source`` (shown before its first poll); its stored record is read back."""
        record = self._record(source.id)
        record.name = source.display_name
        record.url = source.url
        record.interval = source.poll_interval.total_seconds()

    def forget(self, source_ids: Iterable[str]) -> None:
        """Stop reporting sources (a scale-out poller handing them to another instance)."""
        for source_id in source_ids:
            self._records.pop(source_id, None)
            if source_id in self._exported:
                self._exported.discard(source_id)
                for gauge in _GAUGES:
                    with contextlib.suppress(KeyError):
                        gauge.remove(source_id)

    def _record(self, source_id: str) -> _Record:
        record = self._records.get(source_id)
        if record is None:
            record = self._records[source_id] = _Record(name=source_id)
            stored = self._load(source_id)
            if stored is not None:
                try:
                    record.restore(stored)
                except ValueError as exc:
                    log.warning("source health unreadable; starting it afresh", source=source_id, reason=str(exc))
                    record = self._records[source_id] = _Record(name=source_id)
        return record

    # --- hooks (the poller calls these) ----------------------------------------------------

    def succeeded(
        self,
        source_id: str,
        *,
        at: float,
        item_times: Mapping[str, float] | None = None,
        new_items: int = 0,
    ) -> None:
        """A poll got a document: ``item_times`` of its items (:func:`item_times`), ``new_items`` emitted."""
        record = self._record(source_id)
        record.last_poll_at = record.last_success_at = at
        record.consecutive_failures = 0
        record.items_seen += new_items
        if item_times:
            merged = {**record.recent, **item_times}
            newest = sorted(merged.items(), key=lambda kv: kv[1], reverse=True)[:RECENT_ITEMS]
            record.recent = dict(newest)
        self._changed(source_id, record)

    def not_modified(self, source_id: str, *, at: float) -> None:
        """The source answered ``304 Not Modified``: alive, nothing new."""
        self.succeeded(source_id, at=at)

    def failed(self, source_id: str, *, at: float, error: str) -> None:
        """A poll failed (fetch, HTTP status, parse, ...); ``error`` is made one line."""
        record = self._record(source_id)
        record.last_poll_at = record.last_error_at = at
        record.consecutive_failures += 1
        record.last_error = one_line(error)
        self._changed(source_id, record)

    # --- readers ---------------------------------------------------------------------------

    def status(self, source_id: str, now: float | None = None) -> SourceStatus:
        now = self.clock() if now is None else now
        r = self._record(source_id)
        return SourceStatus(
            source_id=source_id,
            name=r.name,
            url=r.url,
            interval=r.interval,
            last_poll_at=r.last_poll_at,
            last_success_at=r.last_success_at,
            last_new_item_at=r.last_new_item_at(),
            consecutive_failures=r.consecutive_failures,
            last_error=r.last_error,
            last_error_at=r.last_error_at,
            items_seen=r.items_seen,
            usual_gap=r.usual_gap(),
            staleness=r.staleness(now),
        )

    def snapshot(self, now: float | None = None) -> list[SourceStatus]:
        """Every known source's status, in the order they were registered (or first polled)."""
        now = self.clock() if now is None else now
        return [self.status(source_id, now) for source_id in list(self._records)]

    # --- persistence and gauges ------------------------------------------------------------

    def _load(self, source_id: str) -> Any:
        if self.store is None:
            return None
        try:
            return self.store.get(source_id)
        except Exception as exc:  # health must never stop polling
            log.warning("source health not readable", source=source_id, reason=str(exc))
            return None

    def _changed(self, source_id: str, record: _Record) -> None:
        if self.store is not None:
            try:
                self.store[source_id] = record.to_json()
                self._store_failed = False
            except Exception as exc:  # health must never stop polling; say so once per outage
                if not self._store_failed:
                    log.warning("source health not saved", source=source_id, reason=str(exc))
                self._store_failed = True
        if self.export:
            self._export(source_id, record)

    def _export(self, source_id: str, record: _Record) -> None:
        if record.last_success_at is not None:
            metrics.SOURCE_LAST_SUCCESS.labels(source_id).set(record.last_success_at)
        last_item = record.last_new_item_at()
        if last_item is not None:
            metrics.SOURCE_LAST_ITEM.labels(source_id).set(last_item)
        metrics.SOURCE_FAILURES.labels(source_id).set(record.consecutive_failures)
        if source_id not in self._exported:
            # computed at scrape time: staleness grows while nothing is polled (a source in back-off)
            metrics.SOURCE_STALENESS.labels(source_id).set_function(self._staleness_of(source_id))
            self._exported.add(source_id)

    def _staleness_of(self, source_id: str) -> Callable[[], float]:
        def value() -> float:
            record = self._records.get(source_id)
            staleness = record.staleness(self.clock()) if record is not None else None
            return math.nan if staleness is None else staleness

        return value


_GAUGES = (
    metrics.SOURCE_LAST_SUCCESS,
    metrics.SOURCE_LAST_ITEM,
    metrics.SOURCE_FAILURES,
    metrics.SOURCE_STALENESS,
)
