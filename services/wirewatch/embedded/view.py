"""What ``wirewatch run`` shows: the terminal view, and the one-line summary when it stops.

On a terminal (:class:`TerminalView`, rich): one line per new story or update (time, source,
title, cut to the terminal's width), one ``ALERT rule -> title (source)`` line per alert, one
short line when a source starts failing and one when it recovers, and a status line at the
bottom with the current rate, this session's counts and the store's totals. Everything is
drawn from the event loop (never from a thread: the store's SQLite connection is the loop's).

Off a terminal, or with ``WIREWATCH_LOG_FORMAT=json``, ``run`` writes log lines instead, and at
stop one ``run stopped`` line with the same counts (:func:`summary_fields`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wirewatch.core.times import parse_rfc3339
from wirewatch.embedded.console import awaited

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from wirewatch.embedded.runner import Runner
    from wirewatch.pollers.health import SourceStatus
    from wirewatch.processors.pipeline import ProcessResult

#: Seconds between two asks of the store's totals (an HTTP request on Elasticsearch).
TOTALS_EVERY = 2.0
#: Seconds between two redraws of the status line (and checks of the sources' health).
REFRESH_EVERY = 0.5
#: Characters of a source's last error on its "failing" line.
ERROR_CHARS = 100
#: Poll log events the terminal view replaces with its own lines (one per change, not per poll).
SHOWN_BY_VIEW = ("source_failed",)


def clock_time(value: str | None, now: datetime | None = None) -> str:
    """An item's time, local: ``14:05`` within the last day, else ``03 Dec`` (6 columns)."""
    if not value:
        return " " * 6
    try:
        moment = parse_rfc3339(value).astimezone()
    except (ValueError, OverflowError):
        return " " * 6
    now = now or datetime.now().astimezone()
    if timedelta(0) <= now - moment < timedelta(days=1) or moment > now:
        return f"{moment:%H:%M} "
    return f"{moment:%d %b}"


def one_line(text: str) -> str:
    """Whitespace (newlines, tabs) folded: a title is one terminal line."""
    return " ".join(str(text).split())


def source_name(source: Any) -> str:
    if isinstance(source, dict):
        return str(source.get("name") or source.get("id") or "?")
    return str(source or "?")


def duration(seconds: float) -> str:
    """``42s``, ``5m 03s``, ``2h 07m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {words or word + 's'}"


def failing_sources(runner: Runner) -> list[SourceStatus]:
    return [s for s in runner.source_health() if s.consecutive_failures > 0]


def summary_fields(runner: Runner, signal_name: str | None) -> dict[str, Any]:
    """This session's counts at stop: the ``run stopped`` log line's fields."""
    stats = runner.stats
    failing = failing_sources(runner)
    return {
        "items": stats.processed, "stories": stats.stories, "alerts": stats.alerts,
        "delivered": stats.delivered, "failing_sources": [s.source_id for s in failing],
        "runtime_seconds": round(stats.runtime(), 1), "signal": signal_name,
    }


def summary_line(runner: Runner) -> str:
    """``stopped after 5m 03s: 120 items, 98 stories, 4 alerts, 3 delivered, 1 failing source``."""
    stats = runner.stats
    failing = failing_sources(runner)
    parts = [plural(stats.processed, "item"), plural(stats.stories, "story", "stories"),
             plural(stats.alerts, "alert")]
    parts.append(f"{stats.delivered:,} delivered" if sends(runner) else "none sent (no --destinations)")
    parts.append(plural(len(failing), "failing source"))
    if failing:
        parts[-1] += f" ({', '.join(s.source_id for s in failing[:5])}{', …' if len(failing) > 5 else ''})"
    when = "while starting" if not runner.ready.is_set() else f"after {duration(stats.runtime())}"
    return f"wirewatch run stopped {when}: {', '.join(parts)}"


def sends(runner: Runner) -> bool:
    """Whether alerts go anywhere (``--destinations`` given)."""
    return runner.config is not None and bool(runner.config.destinations)


@dataclass
class Totals:
    """The store's totals (all sessions), asked every :data:`TOTALS_EVERY` seconds."""

    items: int | None = None
    stories: int | None = None


class TerminalView:
    """The rich terminal view of a :class:`Runner` (see the module docstring)."""

    def __init__(self, runner: Runner, console: Console, *, now: Callable[[], datetime] | None = None) -> None:
        self.runner = runner
        self.console = console
        self.totals = Totals()
        self.now = now or (lambda: datetime.now().astimezone())
        self._failing: set[str] = set()
        self._alerted: set[str] = set()

    # -- lines above the status line -------------------------------------------------
    def line(self, text: Text) -> None:
        """One line, cut to the terminal's width (an ellipsis), never wrapped."""
        self.console.print(text, no_wrap=True, overflow="ellipsis", crop=True)

    def note(self, message: str) -> None:
        """A line of its own, whole (soft-wrapped by the terminal: an address in it copies as one)."""
        self.console.print(message, style="dim", soft_wrap=True, markup=False)

    def result(self, result: ProcessResult) -> None:
        """A runner listener: new stories and updates get a line, every alert an ALERT line."""
        from rich.text import Text

        item = result.item
        status = item["dedupe"]["status"]
        when = clock_time(item.get("published_at") or item.get("fetched_at"), self.now())
        if status in ("new", "update"):
            text = Text(f"{when} ", style="dim")
            text.append(source_name(item.get("source")), style="bold")
            text.append("  " + one_line(item.get("title") or item.get("url") or item["id"]))
            if status == "update":
                text.append("  (updated)", style="cyan")
            self.line(text)
        for alert in result.alerts:
            if alert["id"] in self._alerted:
                continue  # a folded copy raising its story's alert again: shown once
            self._alerted.add(alert["id"])
            text = Text(f"{when} ", style="dim")
            text.append("ALERT", style="bold red")
            text.append(f" {alert['rule']} -> ", style="bold")
            text.append(one_line(alert.get("title") or alert["item_id"]))
            text.append(f" ({source_name(alert.get('source'))})", style="dim")
            self.line(text)

    def sources(self) -> None:
        """One line when a source starts failing, one when it recovers (not one per poll)."""
        from rich.text import Text

        for status in self.runner.source_health():
            sid = status.source_id
            if status.consecutive_failures > 0 and sid not in self._failing:
                self._failing.add(sid)
                error = one_line(status.last_error or "")
                if len(error) > ERROR_CHARS:
                    error = error[: ERROR_CHARS - 1] + "…"
                text = Text("source ", style="yellow")
                text.append(sid, style="bold yellow")
                text.append(f" failing: {error}", style="yellow")
                self.line(text)
            elif status.consecutive_failures == 0 and sid in self._failing:
                self._failing.discard(sid)
                text = Text("source ", style="green")
                text.append(sid, style="bold green")
                text.append(" recovered", style="green")
                self.line(text)

    # -- the status line ---------------------------------------------------------------
    def status(self) -> Text:
        from rich.text import Text

        runner, stats = self.runner, self.runner.stats
        text = Text(no_wrap=True, overflow="ellipsis")
        if runner.stopping:
            return text.append("wirewatch run stopping… (Ctrl-C again: stop now, the rest waits for the next start)")
        if not runner.ready.is_set():
            return text.append("wirewatch run starting…")
        text.append(f"{stats.rate():.1f} items/s", style="bold")
        text.append(f" · session: {plural(stats.processed, 'item')}, {plural(stats.stories, 'story', 'stories')}, "
                    f"{plural(stats.alerts, 'alert')}")
        if sends(runner):
            text.append(f", {stats.delivered:,} delivered")
        if stats.dead_letters:
            text.append(f", {stats.dead_letters:,} dead letters", style="yellow")
        store = [plural(n, word, words) for n, word, words in
                 ((self.totals.items, "item", "items"), (self.totals.stories, "story", "stories")) if n is not None]
        if store:
            text.append(" · store: " + ", ".join(store))
        if self._failing:
            text.append(f" · {plural(len(self._failing), 'source')} failing", style="yellow")
        if runner.web_url:
            text.append(f" · {runner.web_url}", style="cyan")
        return text

    async def refresh_totals(self) -> None:
        store = self.runner.store
        if store is None or self.runner.stopping:
            return
        try:
            self.totals.items = await store.count()
            story_count = getattr(store, "story_count", None)  # sync on SQLite, async on Elasticsearch
            if story_count is not None:
                self.totals.stories = int(await awaited(story_count()))
        except (sqlite3.Error, OSError):  # damage or an outage: the runner reports it; the line goes on
            pass
        except Exception as exc:  # e.g. Elasticsearch unreachable for a moment
            if type(exc).__module__.split(".")[0] not in ("elasticsearch", "elastic_transport"):
                raise

    def started(self) -> None:
        """One line once running: what runs, where the data and the page are."""
        runner, config = self.runner, self.runner.config
        parts = [f"page at {runner.web_url}"] if runner.web_url else []
        if config is not None:
            parts += [plural(len(config.sources.sources), "source"), plural(len(config.processor.rules.rules), "rule")]
        parts.append(f"data in {runner.settings.data_dir}")
        self.note(f"wirewatch run: {', '.join(parts)}; Ctrl-C stops it")

    async def run(self, live: Any, done: asyncio.Event) -> None:
        """Redraw the status line and watch the sources until ``done``."""
        last_totals = 0.0
        told = False
        while not done.is_set():
            if self.runner.ready.is_set():
                if not told:
                    self.started()
                    told = True
                if time.monotonic() - last_totals >= TOTALS_EVERY:
                    last_totals = time.monotonic()
                    await self.refresh_totals()
                self.sources()
            live.update(self.status(), refresh=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), REFRESH_EVERY)


class _NoStatus:
    """A dumb terminal (``TERM=dumb``) cannot redraw a line: the lines above only, no status line."""

    def update(self, renderable: Any, *, refresh: bool = False) -> None:
        return None


@contextlib.contextmanager
def live_status(view: TerminalView) -> Iterator[Any]:
    """The status line, redrawn only when told (auto refresh would draw from a thread)."""
    from rich.live import Live

    if view.console.is_dumb_terminal:
        yield _NoStatus()
        return
    with Live(view.status(), console=view.console, auto_refresh=False, transient=True,
              redirect_stdout=False, redirect_stderr=False) as live:
        yield live

