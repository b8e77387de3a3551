"""The read-only web console of ``wirewatch run``: search, newest stories, live alerts.

Server-rendered with Jinja2 (autoescaping on: feed content is hostile), a small script
that only adds to what works without it (live alerts and stories, local times, ``/``
to search; ``static/app.js``), and a strict Content-Security-Policy. The search reads
its words, filters, time, sort and page from the URL
(:class:`wirewatch.embedded.search_view.SearchRequest`) and shows one page of
:meth:`ItemStore.search_page` with marked titles and snippets
(:mod:`wirewatch.search.highlight`). It binds 127.0.0.1 unless told otherwise, answers only
requests whose ``Host`` names the address it listens on (:class:`HostCheck`: a page on
loopback can't be read through DNS rebinding), and reports the store's state on
``/healthz`` (503 once damage was met).

A search never holds the event loop (the SQLite store searches in a worker
thread) and has :data:`SEARCH_DEADLINE_S` to answer: a bad query is HTTP 400,
one that runs out of time 422 ("query too expensive"), both with a JSON
``{"error": ...}`` on ``/api/search`` and the message on the page.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import itertools
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from wirewatch.core.errors import ConfigError, WirewatchError
from wirewatch.core.logging import get_logger
from wirewatch.core.sqlite import Database, is_damage
from wirewatch.core.times import parse_rfc3339
from wirewatch.embedded.console import add_console, awaited
from wirewatch.embedded.search_view import FILTERS, PER_PAGE, TIMES, VERDICTS, Paging, SearchRequest
from wirewatch.search.highlight import QueryTerms, highlight, snippet, terms_of
from wirewatch.sinks.store import ItemStore

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
log = get_logger("embedded.web")

#: Seconds a search from the page may take. A person waits about this long; the SQLite
#: store tests 5,000-28,000 items a second (2.5 KB bodies, one core of a shared machine),
#: so only a query with no required word, matching next to nothing over a large store,
#: gets here.
SEARCH_DEADLINE_S = 5.0
#: The status of a well-formed query that ran out of time: 422 Unprocessable Content
#: (the request is understood and valid, but not answerable within the limit), so a
#: client can tell it from a syntax error (400) and narrow the query instead of fixing it.
TOO_EXPENSIVE = 422

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class AlertSource(Protocol):
    """Where the page reads alerts from, numbered so the browser can ask for newer ones."""

    def recent_alerts(self, limit: int = 20) -> list[tuple[int, dict[str, Any]]]: ...

    def alerts_after(self, after_seq: int = 0, limit: int = 50) -> list[tuple[int, dict[str, Any]]]: ...


class AlertRing:
    """The last ``size`` alerts seen in this process (for stores without an alert table)."""

    def __init__(self, size: int = 200) -> None:
        self._items: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=size)
        self._seq = itertools.count(1)

    def add(self, alert: dict[str, Any]) -> None:
        self._items.append((next(self._seq), alert))

    def recent_alerts(self, limit: int = 20) -> list[tuple[int, dict[str, Any]]]:
        return list(reversed(self._items))[:limit]

    def alerts_after(self, after_seq: int = 0, limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
        return [entry for entry in self._items if entry[0] > after_seq][:limit]


def href(url: Any) -> str:
    """Only http(s) links reach the page; ``javascript:`` and friends become ``#``."""
    if not isinstance(url, str):
        return "#"
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return "#"
    return url if scheme in ("http", "https") else "#"


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header value -> (lower-case name, port or None); IPv6 keeps its brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        name += "]"
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = value.partition(":")
    try:
        return name, int(port_text) if port_text else None
    except ValueError:
        return name, -1


class HostCheck:
    """Which ``Host`` headers the page answers (DNS rebinding: a hostile name pointed at 127.0.0.1).

    * bound to loopback: ``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``;
    * bound to one address: that address with the port, and the loopback names;
    * bound to every interface (``0.0.0.0``, ``::``): any IP literal with the port (an IP
      in the address bar is no rebinding: the browser's origin is that IP), and localhost;
    * plus each ``--web-allowed-hosts`` name: ``name`` (any port, as behind a proxy) or ``name:port``.

    The port is known once the socket is bound (``--web 127.0.0.1:0``): :meth:`bind` sets it.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.extra = tuple(e.strip().lower() for e in extra if e.strip())
        self.host = "127.0.0.1"
        self.port = 0

    def bind(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def allowed(self) -> list[str]:
        """What the refusal line lists."""
        names = list(LOOPBACK_NAMES)
        bound = f"[{self.host}]" if ":" in self.host else self.host
        if self.host in _WILDCARDS:
            names.append("<any IP address>")
        elif bound.lower() not in names:
            names.insert(0, bound)
        return [f"{n}:{self.port}" for n in names] + list(self.extra)

    def accepts(self, header: str | None) -> bool:
        if not header:
            return False
        name, port = _split_host(header)
        for entry in self.extra:
            entry_name, entry_port = _split_host(entry)
            if name == entry_name and (entry_port is None or entry_port == port):
                return True
        if port not in (self.port, None if self.port == 80 else self.port):
            return False
        if name in LOOPBACK_NAMES:
            return True
        if self.host in _WILDCARDS:
            return _is_ip(name)
        bound = f"[{self.host}]" if ":" in self.host else self.host
        return name == bound.lower()


def parse_allowed_hosts(value: str | None) -> tuple[str, ...]:
    """``--web-allowed-hosts news.example.org,wire.lan:8750`` -> the names; a bad one is a ConfigError."""
    names = tuple(n.strip() for n in (value or "").split(",") if n.strip())
    for name in names:
        if any(c in name for c in "/ @?#") or _split_host(name)[1] == -1:
            raise ConfigError("--web-allowed-hosts", f"expected NAME or NAME:PORT, comma-separated (got {name!r})")
    return names


def parse_bind(value: str) -> tuple[str, int] | None:
    """``--web 127.0.0.1:8750`` -> (host, port); ``off`` -> None; mistakes -> ConfigError."""
    if value.strip().lower() in ("off", "no", "none", "false", "0"):
        return None
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", value
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError("--web", f"expected HOST:PORT or off (got {value!r})") from None
    if not 0 <= port <= 65535:
        raise ConfigError("--web", f"port out of range (got {port})")
    return host, port


@dataclass
class Page:
    """The data behind one page, gathered from the store."""

    store: ItemStore
    alerts: AlertSource

    async def stats(self) -> dict[str, int]:
        stories = getattr(self.store, "story_count", None)  # sync on SQLite, async on Elasticsearch
        alert_total = getattr(self.store, "alert_total", None)  # sync on SQLite, async on Elasticsearch
        return {
            "items": await self.store.count(),
            "stories": int(await awaited(stories())) if callable(stories) else 0,
            "alerts": int(await awaited(alert_total())) if callable(alert_total)
            else len(self.alerts.recent_alerts(10_000)),
        }

    async def stories(self, limit: int = 30) -> list[dict[str, Any]]:
        """Newest stories with folded duplicates (SQLite), else newest story leads."""
        folded = getattr(self.store, "stories", None)
        if callable(folded):
            result: list[dict[str, Any]] = folded(limit)
            return result
        hits = await self.store.search("*", limit=limit, stories_only=True)
        return [{"story_id": h.id, "lead": h.document, "items": [h.document]} for h in hits]


def counted(n: int, one: str, many: str) -> str:
    """``1 alert``, ``5 alerts``: a count with its noun."""
    return f"{n} {one if n == 1 else many}"


def stats_text(stats: dict[str, int]) -> str:
    """The header's stats line, rendered once here for the page and for the poll that refreshes it.

    Subscripts, not ``stats.items``: Jinja reads an attribute first, and a dict's ``items``
    is its method (#17 item 2 showed ``<built-in method items of dict object ...> items``).
    """
    return " · ".join((counted(stats["items"], "item", "items"), counted(stats["stories"], "story", "stories"),
                       counted(stats["alerts"], "alert", "alerts")))


HOST_CHECK = web.AppKey("host_check", HostCheck)


class SearchRefused(Exception):
    """A search the page answers with an error: ``status`` 400 (bad query) or 422 (too expensive)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


async def within(call: Awaitable[T], deadline: float) -> T:
    """The store's answer, or :class:`SearchRefused`; the search is cancelled at ``deadline`` seconds."""
    try:
        return await asyncio.wait_for(call, deadline)
    except TimeoutError:
        raise SearchRefused(TOO_EXPENSIVE, f"query too expensive: no answer within {deadline:g} s; "
                                           "narrow it (more required words, fewer wildcards)") from None
    except (WirewatchError, ValueError) as exc:  # QuerySyntaxError is a ValueError
        raise SearchRefused(400, str(exc)) from None


def utc_text(stamp: Any) -> str:
    """``2026-12-04T10:30:15.250Z`` -> ``2026-12-04 10:30 UTC``: the time as shown without JS
    (the script shows it in local time and keeps this as the hover title)."""
    if not isinstance(stamp, str) or not stamp:
        return ""
    try:
        when = parse_rfc3339(stamp)
    except ValueError:
        return stamp
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def story_signature(story: dict[str, Any]) -> str:
    """What a story row shows changes with: its items and their revisions (the live list compares it)."""
    return ",".join(f"{d.get('id')}@{d.get('revision', 1)}" for d in story["items"])


def shown_hit(doc: dict[str, Any], terms: QueryTerms) -> dict[str, Any]:
    """A hit as the page shows it: the document, its title marked, a marked snippet of its body."""
    return {"doc": doc, "title": highlight(doc.get("title"), terms), "snippet": snippet(doc.get("body"), terms)}


def create_app(
    store: ItemStore,
    alerts: AlertSource,
    *,
    database: Database | None = None,
    allowed_hosts: Iterable[str] = (),
    search_deadline: float = SEARCH_DEADLINE_S,
) -> web.Application:
    """The aiohttp application (no socket yet: tests and the runner bind it).

    ``database`` is the SQLite file whose state ``/healthz`` reports (the SQLite store's own
    by default); ``allowed_hosts`` are extra ``Host`` names (:class:`HostCheck`); a search has
    ``search_deadline`` seconds to answer.
    """
    db = database if database is not None else getattr(store, "db", None)
    hosts = HostCheck(allowed_hosts)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["href"] = href
    env.filters["stats_text"] = stats_text
    env.filters["utc"] = utc_text
    env.filters["signature"] = story_signature
    template = env.get_template("index.html")
    story_row = env.get_template("rows.html").module.story_row  # type: ignore[attr-defined]
    page = Page(store, alerts)

    async def frame(context: dict[str, Any]) -> dict[str, Any]:
        """What base.html shows on every page: the stats line and the live-alerts aside."""
        recent = alerts.recent_alerts(20)
        context.setdefault("query", "")
        context.setdefault("search", SearchRequest())
        context["alerts"] = recent
        context["last_alert"] = max((seq for seq, _ in recent), default=0)
        context["stats"] = await page.stats()
        return context

    async def index(request: web.Request) -> web.Response:
        search = SearchRequest.from_params(request.query)
        context: dict[str, Any] = {
            "query": search.q, "search": search, "ran": search.query(), "hits": [], "stories": [],
            "error": None, "paging": None, "filters": FILTERS, "times": TIMES, "verdicts": VERDICTS,
        }
        status = 200
        if search.active:
            try:
                found = await within(store.search_page(
                    search.query(), offset=search.offset, limit=PER_PAGE, sort=search.sort), search_deadline)
                terms = terms_of(search.query())
                context["hits"] = [shown_hit(h.document, terms) for h in found.hits]
                context["paging"] = Paging.of(search, found.total, len(found.hits))
            except SearchRefused as exc:
                context["error"], status = f"Cannot search for that: {exc}", exc.status
        else:
            context["stories"] = await page.stories()
        return web.Response(text=template.render(**await frame(context)), content_type="text/html", status=status)

    async def api_stories(_request: web.Request) -> web.Response:
        """The newest stories as the page renders them (one template for the first render and
        the live list), with a signature per story so the script replaces only changed ones."""
        rows = []
        for story in await page.stories():
            rows.append({"story_id": story["story_id"], "signature": story_signature(story),
                         "html": story_row(story=story, search=SearchRequest())})
        stats = await page.stats()
        return web.json_response({"stories": rows, "stats": stats, "stats_text": stats_text(stats)})

    async def api_alerts(request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="after must be an integer") from None
        entries = [{"seq": seq, "alert": alert} for seq, alert in alerts.alerts_after(after, 50)]
        stats = await page.stats()
        return web.json_response({"alerts": entries, "stats": stats, "stats_text": stats_text(stats)})

    async def api_search(request: web.Request) -> web.Response:
        """The page's search as JSON: the same parameters (q, filters, time, sort) plus
        ``offset`` and ``limit`` (at most 200); ``{"total": N, "hits": [...]}``."""
        search = SearchRequest.from_params(request.query)
        if not search.active:
            raise web.HTTPBadRequest(text="q is required")
        try:
            limit = min(int(request.query.get("limit", "20")), 200)
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return web.json_response({"error": "limit and offset must be integers"}, status=400)
        try:
            found = await within(store.search_page(search.query(), offset=offset, limit=limit, sort=search.sort),
                                 search_deadline)
        except SearchRefused as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        return web.json_response({"total": found.total, "hits": [h.document for h in found.hits]})

    async def health(_request: web.Request) -> web.Response:
        state = db.state if isinstance(db, Database) else "ok"
        healthy = state == "ok"
        return web.json_response({"ok": healthy, "store": state}, status=200 if healthy else 503)

    @web.middleware
    async def host_check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        header = request.headers.get("Host")
        if not hosts.accepts(header):
            return web.Response(
                status=421, text=f"wirewatch: Host {header!r} is not served here (allowed: "
                f"{', '.join(hosts.allowed())}; add names with --web-allowed-hosts)\n")
        return await handler(request)

    @web.middleware
    async def store_damage(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Damage met while answering: one line, 503, and ``/healthz`` says so from now on."""
        try:
            return await handler(request)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc) or not isinstance(db, Database):
                raise
            error = db.damaged(exc)
            log.error("store damaged", path=str(db.path), state=db.state)
            return web.Response(status=503, text=f"wirewatch: {error}\n")

    @web.middleware
    async def security_headers(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    app = web.Application(middlewares=[host_check, security_headers, store_damage])
    app[HOST_CHECK] = hosts
    app.router.add_get("/", index)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/api/stories", api_stories)
    app.router.add_get("/api/search", api_search)
    app.router.add_get("/healthz", health)
    app.router.add_static("/static/", HERE / "static")
    add_console(app, env, store, frame, search_deadline)  # /story, /alerts, /rules, /sources
    return app


async def start_web(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on host:port (0 = any free port); returns the runner and the page URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError("--web", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    check = app.get(HOST_CHECK)
    if check is not None:
        check.bind(host, bound)
    if not _is_loopback(host):
        log.warning("the web page listens beyond this machine: anyone who can reach it can read it "
                    "(no login)", address=f"{host}:{bound}",
                    allowed_hosts=", ".join(check.allowed()) if check else None)
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}/"
