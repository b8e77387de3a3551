"""``wirewatch sources check``: every source polled once through the real poller, nothing saved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wirewatch.core.config import Settings
from wirewatch.pollers.config import Source, SourcesConfig
from wirewatch.pollers.poller import Poller, PollResult, make_fetcher
from wirewatch.pollers.state import SourceState

#: PollResult.outcome -> the status column (``http_status`` shows its code: ``HTTP 404``).
STATUS = {
    "ok": "ok",
    "timeout": "timeout",
    "network": "network error",
    "proxy": "proxy error",
    "too_large": "too large",
    "redirect_refused": "redirect refused",
    "too_many_redirects": "too many redirects",
    "decode": "decode error",
    "unsafe_xml": "unsafe XML",
    "deferred": "deferred",
    "internal": "internal error",
}




@dataclass(frozen=True)
class CheckRow:
    """One line of the table."""

    source_id: str
    status: str
    items: int
    last_item: str | None
    """Latest ``published_at`` (else ``updated_at``) among the items, ISO 8601 UTC."""
    error: str


class _NoState:
    """A StateStore that starts every source afresh and keeps nothing: a check changes no state."""

    async def load(self, source_id: str) -> SourceState:
        return SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        return None


class _Discard:
    """A Publisher that drops items: the poll result already counts them."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        return None

    async def publish_many(self, topic: str, messages: Any) -> None:
        return None


def status_of(source: Source, outcome: str, reason: str) -> str:
    """The status column: ``ok``, ``HTTP 404``, ``network error``, ``not a feed``..."""
    if outcome == "http_status":
        return reason.split(",", 1)[0] or "HTTP error"
    if outcome == "parse":
        return "parse error" if source.kind == "liveblog" else "not a feed"
    return STATUS.get(outcome, outcome)



def row_of(source: Source, result: PollResult) -> CheckRow:
    times = [t for t in (item.get("published_at") or item.get("updated_at") for item in result.items) if t]
    return CheckRow(
        source_id=source.id,
        status=status_of(source, result.outcome, result.reason),
        items=len(result.items),
        last_item=max(times) if times else None,
        error="" if result.outcome == "ok" else result.reason,
    )


async def check_sources(config: SourcesConfig, settings: Settings) -> list[CheckRow]:
    """Poll each source once, concurrently (the config's ``fetch:`` limits hold); rows in config order."""
    async with make_fetcher(config.fetch, settings.user_agent) as fetcher:
        poller = Poller(
            state=_NoState(),
            fetcher=fetcher,
            publisher=_Discard(),
            raw_topic=settings.raw_topic,
            dead_letter_topic=settings.dead_letter_topic,
            concurrency=config.fetch.concurrency,
        )
        # a check is of the feeds: their article pages (full_text) are not fetched
        feeds_only = [source.model_copy(update={"full_text": "never"}) for source in config.sources]
        results = await poller.poll_once(feeds_only)
    return [row_of(source, result) for source, result in zip(config.sources, results, strict=True)]
