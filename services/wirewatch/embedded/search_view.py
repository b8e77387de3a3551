"""What the console's search asks for, read from the URL: words, filter chips, time, sort, page.

Filters live in the URL as their own parameters (``?q=officials&source=meridian-wire&time=24h``)
and are shown as removable chips; each becomes a query clause AND-ed to the words
(``(officials) AND source.id:"meridian-wire" AND published_at:[now-24h TO now]``), and that
whole query is shown under the box as what ran. Chips rather than text added to the box: a
chip is removed with one click (editing a clause out of a long query is fiddly), the box keeps
what the person typed, and the URL still carries everything, so a link shows the same page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from wirewatch.sinks.store import MAX_WINDOW, SORTS, Sort

#: Hits on one page.
PER_PAGE = 20
#: filter parameter -> (chip label, query field); several values of one are OR-ed.
FILTERS = {
    "source": ("source", "source.id"),
    "entity": ("entity", "entity"),
    "language": ("language", "language"),
    "verdict": ("verdict", "dedupe.status"),
}
VERDICTS = ("new", "duplicate", "near_duplicate", "update")
#: time parameter -> (chip label, lower bound); ``custom`` takes ``from`` and ``to`` (UTC days).
TIMES = {"1h": ("last 1 h", "now-1h"), "24h": ("last 24 h", "now-24h"), "7d": ("last 7 d", "now-7d")}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def quoted(value: str) -> str:
    """A value as one quoted query term (``"`` and ``\\`` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day(text: str | None) -> str | None:
    """A ``YYYY-MM-DD`` from a date input, or None (anything else is ignored, not an error)."""
    if not text or not _DAY.fullmatch(text):
        return None
    try:
        date.fromisoformat(text)
    except ValueError:
        return None
    return text


@dataclass(frozen=True)
class Chip:
    """An active filter: its label and the URL without it."""

    label: str
    remove: str


@dataclass(frozen=True)
class SearchRequest:
    """A search as the URL states it; :meth:`url` writes one back with changes."""

    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    time: str = ""
    day_from: str | None = None
    day_to: str | None = None
    sort: Sort = "newest"
    page: int = 1
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def from_params(cls, params: Mapping[str, str] | Any) -> SearchRequest:
        """From ``request.query`` (a multidict: ``getall`` gives every value of a filter)."""
        getall = getattr(params, "getall", None)
        filters: list[tuple[str, str]] = []
        for name in FILTERS:
            values = getall(name, []) if getall else ([params[name]] if name in params else [])
            for value in values:
                value = value.strip()
                if value and (name, value) not in filters and (name != "verdict" or value in VERDICTS):
                    filters.append((name, value))
        time = params.get("time", "")
        day_from, day_to = _day(params.get("from")), _day(params.get("to"))
        if time == "custom" and not (day_from or day_to):
            time = ""
        if time not in (*TIMES, "custom"):
            time = ""
        sort = params.get("sort", "newest")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            q=params.get("q", "").strip(),
            filters=tuple(filters),
            time=time,
            day_from=day_from if time == "custom" else None,
            day_to=day_to if time == "custom" else None,
            sort=sort if sort in SORTS else "newest",
            page=min(page, MAX_WINDOW // PER_PAGE),
        )

    # -- what runs ----------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Is there anything to search (words or a filter)? Else the page lists stories."""
        return bool(self.q or self.filters or self.time)

    def clauses(self) -> list[str]:
        """The filters as query clauses, in a stable order."""
        out: list[str] = []
        for name, (_, query_field) in FILTERS.items():
            values = [v for n, v in self.filters if n == name]
            terms = [f"{query_field}:{quoted(v)}" for v in values]
            if len(terms) == 1:
                out.append(terms[0])
            elif terms:
                out.append("(" + " OR ".join(terms) + ")")
        if self.time in TIMES:
            out.append(f"published_at:[{TIMES[self.time][1]} TO now]")
        elif self.time == "custom":
            out.append(f"published_at:[{self.day_from or '*'} TO {self.day_to or '*'}]")
        return out

    def query(self) -> str:
        """The one query that runs: the words (grouped) AND each filter clause."""
        clauses = self.clauses()
        if not clauses:
            return self.q
        if not self.q:
            return " AND ".join(clauses)
        return " AND ".join([f"({self.q})", *clauses])

    @property
    def offset(self) -> int:
        return (self.page - 1) * PER_PAGE

    # -- links --------------------------------------------------------------------
    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        out.extend(self.filters)
        if self.time:
            out.append(("time", self.time))
            if self.time == "custom":
                out.extend((k, v) for k, v in (("from", self.day_from), ("to", self.day_to)) if v)
        if self.sort != "newest":
            out.append(("sort", self.sort))
        if self.page > 1:
            out.append(("page", str(self.page)))
        return out

    def url(self, **changes: Any) -> str:
        """``/?...`` for this search with ``changes`` (a change of filters goes back to page 1)."""
        if "page" not in changes:
            changes["page"] = 1
        target = replace(self, **changes)
        query = urlencode(target.params())
        return "/?" + query if query else "/"

    def with_filter(self, name: str, value: str) -> str:
        """The URL adding the filter ``name=value`` (clicking a chip on a result)."""
        if (name, value) in self.filters:
            return self.url()
        return self.url(filters=(*self.filters, (name, value)))

    def with_time(self, time: str) -> str:
        return self.url(time=time, day_from=None, day_to=None)

    def chips(self) -> list[Chip]:
        """The active filters, each with the URL that removes it."""
        chips = [
            Chip(f"{FILTERS[name][0]}: {value}", self.url(filters=tuple(f for f in self.filters if f != (name, value))))
            for name, value in self.filters
        ]
        if self.time in TIMES:
            chips.append(Chip(f"time: {TIMES[self.time][0]}", self.url(time="")))
        elif self.time == "custom":
            chips.append(Chip(f"time: {self.day_from or '…'} to {self.day_to or '…'} (UTC)",
                              self.url(time="", day_from=None, day_to=None)))
        return chips


@dataclass(frozen=True)
class Paging:
    """``41–60 of 72`` and the neighbouring pages' URLs."""

    first: int
    last: int
    total: int
    prev: str | None
    next: str | None

    @property
    def label(self) -> str:
        if self.total == 0 or self.first > self.last:
            return f"0 of {self.total:,}"
        return f"{self.first:,}–{self.last:,} of {self.total:,}"

    @classmethod
    def of(cls, request: SearchRequest, total: int, shown: int) -> Paging:
        first = request.offset + 1
        last = request.offset + shown
        reachable = min(total, MAX_WINDOW)
        prev = request.url(page=request.page - 1) if request.page > 1 else None
        nxt = request.url(page=request.page + 1) if last < reachable else None
        return cls(first, last, total, prev, nxt)
