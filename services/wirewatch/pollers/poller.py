"""Polling: fetch -> parse -> diff against state -> publish -> save state.

:class:`Poller` is the reusable async core: it takes a bus
:class:`~wirewatch.bus.base.Publisher` (Kafka, the in-process bus, or
:class:`StdoutPublisher` for ``poll --once``), a
:class:`~wirewatch.pollers.state.StateStore` and a fetcher. Order of effects
per source: items are published (acknowledged by the bus) *before* the state
that records them is saved, and a failed publish is retried, never skipped:
a crash re-emits rather than loses. (With Kafka, :mod:`wirewatch.pollers.group`
also folds already-published items back into state after a crash, so even the
re-emission does not happen.)

One bad source never affects another: each poll returns a :class:`PollResult`
whose ``outcome`` names what happened, logged as one line.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, TypeVar

from wirewatch.bus.base import Publisher
from wirewatch.core.deadletter import dead_letter, utc_now
from wirewatch.core.errors import SchemaError
from wirewatch.core.logging import get_logger
from wirewatch.core.metrics import DEAD_LETTERS, FETCH_ERRORS, FETCH_SECONDS, ITEMS_EMITTED, POLLS
from wirewatch.core.retry import Backoff
from wirewatch.core.schemas import validate
from wirewatch.pollers import feeds, fulltext, rechecks
from wirewatch.pollers.config import FetchSettings, Source
from wirewatch.pollers.feeds import looks_like_json, parse_feed
from wirewatch.pollers.health import SourceHealth, item_times
from wirewatch.pollers.http import (
    Fetch,
    Fetcher,
    FetchOutcome,
    FetchPolicy,
    decode_text,
)
from wirewatch.pollers.items import describe, one_per_id
from wirewatch.pollers.liveblog import parse_liveblog
from wirewatch.pollers.state import PageState, StateStore

log = get_logger("pollers")

MAX_BACKOFF = 3600.0
T = TypeVar("T")


@dataclass
class PollResult:
    """What one poll of one source did."""

    source_id: str
    outcome: str
    """``ok``, ``not_modified``, or a failure kind (``timeout``, ``http_status``, ``parse``...)."""
    reason: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    retry_after: float | None = None

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "not_modified", "deferred")


def fetch_policy(settings: FetchSettings, user_agent: str) -> FetchPolicy:
    """The fetcher limits from the ``fetch:`` section of sources.yaml."""
    return FetchPolicy(
        user_agent=user_agent,
        connect_timeout=settings.connect_timeout.total_seconds(),
        read_timeout=settings.read_timeout.total_seconds(),
        total_timeout=settings.total_timeout.total_seconds(),
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        per_host_concurrency=settings.per_host_concurrency,
        min_host_delay=settings.min_host_delay.total_seconds(),
    )


def make_fetcher(settings: FetchSettings, user_agent: str) -> Fetcher:
    return Fetcher(fetch_policy(settings, user_agent))


class StdoutPublisher:
    """A Publisher writing each value as one JSON line (the ``poll --once`` contract).

    Only ``raw_topic``'s messages go to ``stream`` (stdout: raw items and nothing else);
    dead letters go to ``dead_letters`` when given (``--dead-letters FILE``), else only
    the poller's one warning line on stderr says what was dropped and why.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        raw_topic: str,
        dead_letters: IO[str] | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        self.raw_topic = raw_topic
        self.dead_letters = dead_letters

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stream.flush()
        if self.dead_letters is not None:
            self.dead_letters.flush()

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        out = self.stream if topic == self.raw_topic else self.dead_letters
        if out is None:
            return
        out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        for key, value in messages:
            await self.publish(topic, value, key)


def parse_document(
    source: Source, fetched: FetchOutcome, fetched_at: str
) -> tuple[list[dict[str, Any]], str | None, str, list[str]]:
    """Items of a fetched document, or ``(.., error, kind, ..)``; picks feed vs live blog.

    Items come out with unique ids (:func:`~wirewatch.pollers.items.one_per_id`).
    """
    items, error, kind, warnings = _parse_document(source, fetched, fetched_at)
    items, repeated = one_per_id(items)
    return items, error, kind, warnings + ([repeated] if repeated else [])


def _parse_document(
    source: Source, fetched: FetchOutcome, fetched_at: str
) -> tuple[list[dict[str, Any]], str | None, str, list[str]]:
    """:func:`parse_document` before ids are made unique."""
    page_url = fetched.final_url or source.url
    content_type = fetched.content_type.lower()
    is_html = "html" in content_type and "xhtml+xml" not in content_type
    try_feed = source.kind == "rss" or (
        source.kind == "auto" and (not is_html or looks_like_json(fetched.content))
    )
    warnings: list[str] = []
    if try_feed:
        feed = parse_feed(
            fetched.content,
            source=source,
            page_url=page_url,
            content_type=fetched.content_type,
            fetched_at=fetched_at,
        )
        if feed.error is None:
            return feed.items, None, "ok", feed.warnings
        if (
            source.kind == "rss"
            or feed.error_kind != "parse"
            or feed.is_feed
            or looks_like_json(fetched.content)  # JSON is no web page: its own error says more
        ):
            return [], feed.error, feed.error_kind, feed.warnings
        warnings = feed.warnings
    decoded = decode_text(fetched.content, fetched.content_type)
    if decoded.replaced:
        warnings.append(f"invalid {decoded.encoding} bytes replaced by U+FFFD")
    page = parse_liveblog(decoded.text, source=source, page_url=page_url, fetched_at=fetched_at)
    if page.error:
        hint = feeds.advertised_hint(fetched.content, fetched.content_type, page_url) if source.kind == "auto" else ""
        return [], page.error + hint, "parse", warnings + page.warnings
    return page.items, None, "ok", warnings + page.warnings


class Poller:
    """Polls sources into a Publisher, keeping incremental state in a StateStore."""

    def __init__(
        self,
        *,
        state: StateStore,
        fetcher: Fetch,
        publisher: Publisher,
        raw_topic: str,
        dead_letter_topic: str,
        concurrency: int = 32,
        retry_base: float = 0.5,
        stop: asyncio.Event | None = None,
        health: SourceHealth | None = None,
        recheck: rechecks.Recheck | None = None,
    ) -> None:
        self.state = state
        self.fetcher = fetcher
        self.publisher = publisher
        self.raw_topic = raw_topic
        self.dead_letter_topic = dead_letter_topic
        self.retry_backoff = Backoff(base=retry_base, cap=30.0, floor=retry_base)
        """Publishing and saving state: never sooner than ``retry_base``, at most 30 s apart."""
        self.stop = stop or asyncio.Event()
        self.health = health
        """Told every poll's outcome (the console's sources page, the staleness gauges)."""
        self.recheck = recheck or rechecks.Recheck()
        """When recently fetched article pages are fetched again (:mod:`~wirewatch.pollers.rechecks`)."""
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = random.Random()

    # --- one poll ------------------------------------------------------------------------

    async def poll_source(self, source: Source) -> PollResult:
        """Poll one source once; publish new/revised items, then save its state."""
        async with self._slots:
            try:
                return await self._poll(source)
            except Exception as exc:
                if self.health is not None:
                    self.health.failed(source.id, at=time.time(), error=f"internal: {describe(exc)}")
                raise

    async def _poll(self, source: Source) -> PollResult:
        state = await self.state.load(source.id)
        fetched_at = utc_now()
        now = time.time()
        # a re-check re-emits the feed's current entry: with pages due, the whole feed is needed
        pages_due = source.full_text != "never" and bool(rechecks.due(state, self.recheck, now))
        fetched = await self.fetcher.fetch(
            source.url,
            etag=None if pages_due else state.etag,
            last_modified=None if pages_due else state.last_modified,
            settings=source.fetch_settings,
        )
        FETCH_SECONDS.labels(source.id).observe(fetched.elapsed)
        if fetched.kind == "not_modified":
            POLLS.labels(source.id, "not_modified").inc()
            if self.health is not None:
                self.health.not_modified(source.id, at=time.time())
            return PollResult(source.id, "not_modified")
        if not fetched.ok:
            return self._failed(source, fetched.kind, fetched.reason, fetched.retry_after)
        try:
            # In a thread: parsing a 6,000-item feed takes seconds of CPU, during which the
            # event loop (other sources, the processor, the web page) would otherwise stand
            # still (tests/pollers/test_large_feeds.py).
            items, error, kind, warnings = await asyncio.to_thread(
                parse_document, source, fetched, fetched_at
            )
        except Exception as exc:  # a parser bug must cost one poll of one source, not the run
            items, error, kind, warnings = [], describe(exc), "parse", []
        for warning in warnings:
            log.warning("source_warning", source=source.id, reason=warning)
        if error is not None:
            return self._failed(source, kind, error, None)
        items = await self._valid(source, items)
        wanted = fulltext.mark(source.full_text, items)
        emitted, next_state = state.plan(
            items, etag=fetched.etag, last_modified=fetched.last_modified
        )
        pages: dict[str, PageState] = {}
        later: set[str] = set()
        fetched_pages = min(sum(item["id"] in wanted for item in emitted), fulltext.PAGES_PER_POLL)
        if wanted:  # only new or changed feed entries reach here: an unchanged feed fetches no page
            emitted, later, pages = await fulltext.complete(
                emitted,
                wanted,
                fetcher=self.fetcher,
                source_id=source.id,
                feed_url=source.url,
                settings=source.fetch_settings,
                known=state.pages,
                now=now,
            )
            next_state = fulltext.postpone(next_state, later, state)
        if pages_due:
            emitted_ids = {item["id"] for item in emitted} | later
            revised, checked = await rechecks.recheck(
                [item for item in items if item["id"] not in emitted_ids],
                state,
                policy=self.recheck,
                budget=fulltext.PAGES_PER_POLL - fetched_pages,
                pages=fulltext.PageFetch(self.fetcher, source.url, source.fetch_settings),
                source_id=source.id,
                now=now,
            )
            pages.update(checked)
            revised, next_state = next_state.revise(revised)
            emitted += revised
        if pages or next_state.pages:
            next_state = next_state.with_pages(
                pages, present={item["id"] for item in items}, window=self.recheck.window, now=now
            )
        if emitted:
            if state.saved_at == 0:
                # Mark the source as started before its first publish (log recovery starts here).
                await self._retry(
                    "save_state", source, lambda: self.state.save(state.with_validators(None, None))
                )
            messages = [(source.id, item) for item in emitted]
            await self._retry(
                "publish", source, lambda: self.publisher.publish_many(self.raw_topic, messages)
            )
        await self._retry("save_state", source, lambda: self.state.save(next_state))
        ITEMS_EMITTED.labels(source.id).inc(len(emitted))
        POLLS.labels(source.id, "ok").inc()
        log.info("source_polled", source=source.id, items=len(items), emitted=len(emitted))
        if self.health is not None:
            polled_at = time.time()
            self.health.succeeded(
                source.id,
                at=polled_at,
                item_times=item_times(items, emitted, polled_at),
                new_items=sum(1 for item in emitted if item.get("revision", 1) == 1),
            )
        return PollResult(source.id, "ok", items=emitted)

    def _failed(
        self, source: Source, kind: str, reason: str, retry_after: float | None
    ) -> PollResult:
        if kind == "deferred":
            POLLS.labels(source.id, "deferred").inc()
            log.info("source_deferred", source=source.id, reason=reason)
            return PollResult(source.id, kind, reason, retry_after=retry_after)
        POLLS.labels(source.id, "error").inc()
        FETCH_ERRORS.labels(source.id, kind).inc()
        log.warning("source_failed", source=source.id, url=source.url, kind=kind, reason=reason)
        if self.health is not None:
            self.health.failed(source.id, at=time.time(), error=f"{kind}: {reason}")
        return PollResult(source.id, kind, reason, retry_after=retry_after)

    async def _valid(self, source: Source, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items matching the raw-item schema; the others go to the dead-letter topic."""
        good: list[dict[str, Any]] = []
        for item in items:
            try:
                validate("raw_item", item)
            except SchemaError as exc:
                record = dead_letter("poller", str(exc), item, key=source.id, topic=self.raw_topic)
                log.warning("item_dead_lettered", source=source.id, reason=str(exc))
                await self._retry(
                    "publish",
                    source,
                    partial(self.publisher.publish, self.dead_letter_topic, record, key=source.id),
                )
                DEAD_LETTERS.labels("poller").inc()
                continue
            good.append(item)
        return good

    async def _retry(self, what: str, source: Source, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action`` until it succeeds; a bus outage delays items, never drops them."""
        failures = 0
        while True:
            try:
                return await action()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = self.retry_backoff.delay(failures, self._rng)
                log.warning(
                    f"{what}_failed",
                    source=source.id,
                    attempt=failures,
                    retry_in=round(delay, 2),
                    reason=f"{type(exc).__name__}: {exc}",
                )
                if self.stop.is_set():
                    raise
                await asyncio.sleep(delay)

    # --- many polls ----------------------------------------------------------------------

    async def poll_once(self, sources: Sequence[Source]) -> list[PollResult]:
        """Poll every source once, concurrently; results in the order of ``sources``."""
        return list(await asyncio.gather(*(self.poll_source(s) for s in sources)))

    async def run_source(self, source: Source, stop: asyncio.Event | None = None) -> None:
        """Poll one source until :attr:`stop` (or ``stop``): its interval, back-off when failing.

        Stopping never interrupts a poll in progress: its items get published
        and its state saved first.
        """
        if self.health is not None:
            self.health.register(source)
        interval = source.poll_interval.total_seconds()
        # A failing source waits at least its interval, doubling up to MAX_BACKOFF: hosts are spared.
        backoff = Backoff(base=interval, cap=max(interval, MAX_BACKOFF), floor=interval)
        failures = 0
        # Spread the first polls so a restart does not hit every host at once.
        delay = self._rng.uniform(0, min(interval, 5.0))
        while not await self._sleep(delay, stop):
            try:
                result = await self.poll_source(source)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one source's bug stop the others
                log.error("source_crashed", source=source.id, reason=f"{type(exc).__name__}: {exc}")
                result = PollResult(source.id, "internal", str(exc))
            if result.failed:
                failures += 1
                delay = backoff.delay(failures, self._rng)
            else:
                failures = 0
                delay = interval
            if result.retry_after is not None:
                delay = max(delay, result.retry_after)

    async def run(self, sources: Sequence[Source]) -> None:
        """Poll every source on its own schedule until :attr:`stop` is set."""
        async with asyncio.TaskGroup() as group:
            for source in sources:
                group.create_task(self.run_source(source), name=f"poll:{source.id}")

    async def _sleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        """Sleep unless stopped; True when stopping."""
        events = [self.stop] if stop is None else [self.stop, stop]
        if any(e.is_set() for e in events):
            return True
        waiters = [asyncio.create_task(e.wait()) for e in events]
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        return bool(done)
