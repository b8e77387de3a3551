"""The console's desk pages: a story's versions, alert history, rules with a backtest box, sources.

Registered on the web app by :func:`add_console` (one line in
:func:`wirewatch.embedded.web.create_app`); what only the running pipeline knows (the
rules loaded right now, :class:`~wirewatch.pollers.health.SourceHealth`) is attached by
``wirewatch run`` with :func:`attach`. Pages are server-rendered and complete without
JavaScript; the page's ``app.js`` shows their times in the reader's time zone.

Stores: everything works on the SQLite store. On Elasticsearch (``wirewatch run`` with
``WIREWATCH_ELASTICSEARCH_URL``) the story page searches ``story_id:"..."`` and shows each
item's latest revision number only (the index keeps no revision history) and no alerts;
alert history, rules and backtests read the index as on SQLite.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from wirewatch.core.errors import WirewatchError
from wirewatch.core.times import parse_rfc3339, rfc3339
from wirewatch.pollers.health import QUIET_RATIO, SourceHealth, SourceStatus
from wirewatch.processors.rules import Rule

ALERTS_PER_PAGE = 50
#: Rules on one page of /rules (each costs two small store reads for its matches).
RULES_PER_PAGE = 100
RULE_MATCHES_SHOWN = 3
BACKTEST_HITS_SHOWN = 10
#: Items of one story the Elasticsearch story page reads.
STORY_ITEMS_MAX = 500
#: The backtest box's periods: label -> window (None: everything stored).
PERIODS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "365d": timedelta(days=365),
    "all": None,
}
DEFAULT_PERIOD = "7d"


@dataclass
class ConsoleState:
    """What the pages read beyond the store: set by ``wirewatch run`` (:func:`attach`)."""

    health: SourceHealth | None = None
    rules: Callable[[], Sequence[Rule]] | None = None


CONSOLE = web.AppKey("console", ConsoleState)


def attach(
    app: web.Application,
    *,
    health: SourceHealth | None = None,
    rules: Callable[[], Sequence[Rule]] | None = None,
) -> None:
    """Give the pages the running pipeline's source health and current rules (they reload)."""
    state = app[CONSOLE]
    state.health = health
    state.rules = rules


# --- formatting ----------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        if math.isnan(value):
            return None
        return datetime.fromtimestamp(value, UTC)
    try:
        return parse_rfc3339(str(value))
    except ValueError:
        return None


def iso(value: Any) -> str:
    """An RFC 3339 string or epoch seconds as RFC 3339 UTC with milliseconds (``datetime`` attributes;
    the web module's ``utc`` filter makes the text of it)."""
    moment = _moment(value)
    return rfc3339(moment, millis=True) if moment is not None else ""


def span(seconds: Any) -> str:
    """A duration for people: ``45 s``, ``12 min``, ``3.5 h``, ``4 d``."""
    if seconds is None:
        return "unknown"
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.1f} d".replace(".0 d", " d")


def ago(value: Any, now: float | None = None) -> str:
    """``12 min ago`` for an epoch time (``never`` for None)."""
    if value is None:
        return "never"
    now = time.time() if now is None else now
    return f"{span(max(0.0, now - float(value)))} ago"


def lucene_phrase(text: str) -> str:
    """``text`` as a quoted Lucene phrase (story ids hold ``:`` and ``/``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def awaited(value: Any) -> Any:
    """A store method's result, awaited when it is a coroutine (Elasticsearch) and not (SQLite)."""
    return await value if inspect.isawaitable(value) else value


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryView:
    story_id: str
    items: list[dict[str, Any]]
    revisions: dict[str, list[dict[str, Any]]]
    alerts: list[dict[str, Any]] | None
    """None: the store cannot list a story's alerts (Elasticsearch)."""
    entities: list[tuple[str, str, int]]
    note: str | None = None

    @property
    def lead(self) -> dict[str, Any]:
        return next((d for d in self.items if d.get("id") == self.story_id), self.items[0])

    @property
    def outlets(self) -> int:
        return len({(d.get("source") or {}).get("id") for d in self.items})


def story_entities(items: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(name, type, items naming it) over a story's items, most named first."""
    counts: Counter[tuple[str, str]] = Counter()
    for item in items:
        counts.update({(str(e.get("name", "")), str(e.get("type", ""))) for e in item.get("entities") or []})
    return [(name, kind, n) for (name, kind), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))]


async def load_story(store: Any, story_id: str) -> StoryView | None:
    """A story's items, revisions, entities and alerts; None when no item belongs to it."""
    if callable(getattr(store, "story_items", None)):
        items = store.story_items(story_id)
        if not items:
            return None
        revisions = store.revisions([d["id"] for d in items])
        return StoryView(story_id, items, revisions, store.story_alerts(story_id), story_entities(items))
    try:
        hits = await store.search(f"story_id:{lucene_phrase(story_id)}", limit=STORY_ITEMS_MAX)
    except (WirewatchError, ValueError) as exc:  # a store that cannot search story_id: say so
        note = f"This store cannot list a story's items ({' '.join(str(exc).split())[:200]})."
        return StoryView(story_id, [], {}, None, [], note=note)
    items = sorted((h.document for h in hits), key=lambda d: (str(d.get("published_at", "")), str(d.get("id"))))
    if not items:
        return None
    note = ("Elasticsearch keeps each item's latest revision only: revision numbers are shown, earlier "
            "texts are not. Alerts of a story are listed on the alerts page.")
    return StoryView(story_id, items, {}, None, story_entities(items), note=note)


@dataclass(frozen=True)
class EventView:
    """An event across outlets: its items oldest first (the timeline), the merges into it."""

    event_id: str
    asked: str  # the id in the address (an id merged away leads here)
    items: list[dict[str, Any]]
    merges: list[dict[str, Any]]
    note: str | None = None

    @property
    def lead(self) -> dict[str, Any]:
        return next((d for d in self.items if d.get("id") == self.event_id), self.items[0])

    @property
    def outlets(self) -> list[tuple[str, int]]:
        """(outlet, items) by first appearance."""
        counts: Counter[str] = Counter()
        for doc in self.items:
            source = doc.get("source") or {}
            counts[str(source.get("name") or source.get("id") or "?")] += 1
        return list(counts.items())

    @property
    def stories(self) -> int:
        return len({d.get("story_id") for d in self.items})


async def load_event(store: Any, event_id: str) -> EventView | None:
    """An event's items and merges; None when no item belongs to it."""
    if callable(getattr(store, "event_items", None)):
        current, merges, items = store.event_items(event_id)
        return EventView(current, event_id, items, merges) if items else None
    try:  # Elasticsearch: the items of the id, and of ids an item says it merged into it
        bridged = await store.search(f"event_merged:{lucene_phrase(event_id)}", limit=1)
        current = str(bridged[0].document["event_id"]) if bridged else event_id
        hits = list(await store.search(f"event_id:{lucene_phrase(current)}", limit=STORY_ITEMS_MAX))
        merges = [{"old": str(old), "new": current, "item_id": h.document["id"], "at": h.document.get("processed_at")}
                  for h in hits for old in h.document.get("event_merged") or ()]
        if merges:  # one level of merges: the items still carrying the ids merged away
            query = " OR ".join(f"event_id:{lucene_phrase(m['old'])}" for m in merges)
            hits += await store.search(query, limit=STORY_ITEMS_MAX)
    except (WirewatchError, ValueError) as exc:
        note = f"This store cannot list an event's items ({' '.join(str(exc).split())[:200]})."
        return EventView(event_id, event_id, [], [], note=note)
    items = sorted((h.document for h in hits), key=lambda d: (str(d.get("published_at", "")), str(d.get("id"))))
    return EventView(current, event_id, items, merges) if items else None


def rule_list(state: ConsoleState) -> list[Rule] | None:
    return list(state.rules()) if state.rules is not None else None


# --- pages ---------------------------------------------------------------------------------


def add_console(
    app: web.Application,
    env: jinja2.Environment,
    store: Any,
    frame: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    search_deadline: float,
) -> None:
    """Register ``/story/{id}``, ``/event/{id}``, ``/alerts``, ``/rules`` and ``/sources`` on ``app``.

    ``frame`` adds what ``base.html`` shows on every page (stats line, live alerts).
    """
    from wirewatch.embedded.web import SearchRefused

    state = ConsoleState()
    app[CONSOLE] = state
    env.filters.update(iso=iso, span=span, ago=ago)
    templates = {name: env.get_template(f"{name}.html") for name in ("story", "event", "alerts", "rules", "sources")}

    async def render(name: str, status: int = 200, **context: Any) -> web.Response:
        html = templates[name].render(await frame({"nav": name, "now": time.time(), **context}))
        return web.Response(text=html, content_type="text/html", status=status)

    async def story(request: web.Request) -> web.Response:
        story_id = request.match_info["story_id"]
        view = await load_story(store, story_id)
        if view is None:
            return await render("story", status=404, story_id=story_id, view=None, nav_story=True)
        return await render("story", story_id=story_id, view=view)

    async def event(request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        view = await load_event(store, event_id)
        return await render("event", status=404 if view is None else 200, event_id=event_id, view=view,
                            nav_story=True)

    async def alerts(request: web.Request) -> web.Response:
        rule = request.query.get("rule") or None
        page_no = _page_number(request)
        history = getattr(store, "alert_history", None)
        loaded = rule_list(state) or []
        rule_ids = sorted({r.id for r in loaded} | ({rule} if rule else set()))
        if not callable(history):
            return await render("alerts", entries=None, rule=rule, rule_ids=rule_ids, total=0, page_no=1,
                                pages=1, link=_link("/alerts", rule=rule))
        total = int(await awaited(store.alert_total(rule=rule)))
        pages = max(1, math.ceil(total / ALERTS_PER_PAGE))
        page_no = min(page_no, pages)
        entries = await awaited(history(limit=ALERTS_PER_PAGE, offset=(page_no - 1) * ALERTS_PER_PAGE, rule=rule))
        first = (page_no - 1) * ALERTS_PER_PAGE + 1 if entries else 0
        return await render("alerts", entries=entries, rule=rule, rule_ids=rule_ids, total=total,
                            page_no=page_no, pages=pages, first=first, last=first + len(entries) - 1,
                            link=_link("/alerts", rule=rule))

    async def rules(request: web.Request) -> web.Response:
        loaded = rule_list(state)
        page_no, pages, shown = 1, 1, loaded
        if loaded is not None:
            pages = max(1, math.ceil(len(loaded) / RULES_PER_PAGE))
            page_no = min(_page_number(request), pages)
            shown = loaded[(page_no - 1) * RULES_PER_PAGE:page_no * RULES_PER_PAGE]
        matches: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        history = getattr(store, "alert_history", None)
        if shown is not None and callable(history):
            for rule in shown:
                total = int(await awaited(store.alert_total(rule=rule.id)))
                recent = await awaited(history(limit=RULE_MATCHES_SHOWN, rule=rule.id)) if total else []
                matches[rule.id] = (total, recent)
        query = request.query.get("q", "").strip()
        period = request.query.get("since", DEFAULT_PERIOD)
        if period not in PERIODS:
            period = DEFAULT_PERIOD
        backtest: dict[str, Any] | None = None
        status = 200
        if query:
            try:
                backtest = await run_backtest(store, query, PERIODS[period], search_deadline)
            except SearchRefused as exc:
                backtest, status = {"error": str(exc)}, exc.status
        return await render("rules", status=status, rules=shown, total_rules=len(loaded or []), matches=matches,
                            q=query, period=period, periods=list(PERIODS), backtest=backtest,
                            page_no=page_no, pages=pages, first=(page_no - 1) * RULES_PER_PAGE + 1,
                            link=_link("/rules", q=query or None, since=period))

    async def sources(_request: web.Request) -> web.Response:
        health = state.health
        snapshot: list[SourceStatus] | None = health.snapshot() if health is not None else None
        if snapshot is not None:  # what needs a look first: failing, then quiet, each in config order
            snapshot.sort(key=lambda s: 0 if s.failing else 1 if s.quiet else 2)
        failing = sum(1 for s in snapshot or [] if s.failing)
        quiet = sum(1 for s in snapshot or [] if s.quiet and not s.failing)
        now = health.clock() if health is not None else time.time()
        return await render("sources", sources=snapshot, failing=failing, quiet=quiet, quiet_ratio=QUIET_RATIO,
                            now=now)

    app.router.add_get("/story/{story_id:.+}", story)
    app.router.add_get("/event/{event_id:.+}", event)
    app.router.add_get("/alerts", alerts)
    app.router.add_get("/rules", rules)
    app.router.add_get("/sources", sources)


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def _link(path: str, **params: Any) -> Callable[..., str]:
    """A URL builder keeping ``params`` (None dropped): ``link(page=2)``."""

    def build(**more: Any) -> str:
        merged = {k: v for k, v in {**params, **more}.items() if v is not None}
        return path + ("?" + urlencode(merged) if merged else "")

    return build


async def run_backtest(store: Any, query: str, window: timedelta | None, deadline: float) -> dict[str, Any]:
    """How many stored items ``query`` matches in ``window`` (up to now) and the newest of them.

    Raises :class:`~wirewatch.embedded.web.SearchRefused` for a bad or too expensive query.
    """
    from wirewatch.embedded.web import within

    since = datetime.now(UTC) - window if window is not None else None
    found = await within(store.search_page(query, limit=BACKTEST_HITS_SHOWN, since=since), deadline)
    return {"count": int(found.total), "hits": [h.document for h in found.hits]}
