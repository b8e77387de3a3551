"""Re-checking recent articles: an edited page is a new revision even when its feed entry is not.

Publishers correct and extend articles without touching the feed entry. So for a while
after an item's page was first fetched (:attr:`Recheck.window`, 24 h), each poll
re-fetches a few of its pages (:attr:`Recheck.per_poll`, the least recently checked
first, each at most every :attr:`Recheck.every`, 30 min) with a conditional GET
(``If-None-Match``/``If-Modified-Since`` from the stored ETag/Last-Modified):

* ``304 Not Modified``: unchanged; nothing extracted, nothing emitted;
* a page whose extracted text hashes as before (:func:`~wirewatch.pollers.fulltext.text_hash`:
  a rotating "most viewed" box or a timestamp in the chrome is not in the text): nothing;
* a changed text: the item is emitted again, same id, ``revision`` + 1, its ``body`` the
  new article (published before the state is saved, as every revision is).

Re-checks come out of the poll's page budget (:data:`~wirewatch.pollers.fulltext.PAGES_PER_POLL`)
after the new and changed feed entries, and never more than ``per_poll`` of it. The item
re-emitted is the feed's current entry with the new article, so a poll with re-checks
due asks for the feed without its validators (the state keeps no copy of items).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from wirewatch.core.logging import get_logger
from wirewatch.pollers import fulltext
from wirewatch.pollers.fulltext import Later, NoArticle, PageFetch
from wirewatch.pollers.state import PageState, SourceState

log = get_logger("pollers.rechecks")


@dataclass(frozen=True)
class Recheck:
    """When recently fetched article pages are fetched again (README: "Full text")."""

    window: float = 86400.0
    """Seconds after an item's page was first fetched during which it is re-checked."""
    every: float = 1800.0
    """Seconds between two checks of one page at least."""
    per_poll: int = 10
    """Pages one poll of one source re-checks at most (within the poll's page budget)."""


def due(state: SourceState, policy: Recheck, now: float) -> list[str]:
    """Ids whose page is due a re-check, the least recently checked first."""
    ready = [
        (page.checked, item_id)
        for item_id, page in state.pages.items()
        if now - page.first <= policy.window and now - page.checked >= policy.every
    ]
    return [item_id for _checked, item_id in sorted(ready)]


async def recheck(
    items: list[dict[str, Any]],
    state: SourceState,
    *,
    policy: Recheck,
    budget: int,
    pages: PageFetch,
    source_id: str,
    now: float,
) -> tuple[list[dict[str, Any]], dict[str, PageState]]:
    """Items (copies, with their new article) whose page changed, and the pages' new state.

    ``items`` are the feed's current entries not emitted by this poll.
    """
    by_id = {item["id"]: item for item in items}
    todo = [i for i in due(state, policy, now) if i in by_id][: max(0, min(budget, policy.per_poll))]
    slots = asyncio.Semaphore(fulltext.CONCURRENT_PAGES)
    changed: list[dict[str, Any]] = []
    updates: dict[str, PageState] = {}

    async def one(item_id: str) -> None:
        item, page = by_id[item_id], state.pages[item_id]
        async with slots:
            try:
                fetched = await pages.get(item, page.etag, page.last_modified)
                if fetched.kind == "not_modified":
                    updates[item_id] = replace(page, checked=now)
                    return
                article = await pages.article(item, fetched)
            except Later:
                return  # its host is busy: due again at the next poll
            except NoArticle as exc:
                log.info("full_text_recheck_failed", source=source_id, url=item["url"], reason=str(exc))
                updates[item_id] = replace(page, checked=now)
                return
        digest = fulltext.text_hash(article.text)
        updates[item_id] = PageState(fetched.etag, fetched.last_modified, digest, page.first, now)
        if digest != page.text_hash:
            revised = dict(item)
            fulltext.apply(revised, article)
            changed.append(revised)

    await asyncio.gather(*(one(item_id) for item_id in todo))
    order = {item_id: n for n, item_id in enumerate(todo)}
    return sorted(changed, key=lambda item: order[item["id"]]), updates
