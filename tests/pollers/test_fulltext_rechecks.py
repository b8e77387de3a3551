"""Re-checks: an article edited under an unchanged feed entry is a new revision.

Every poll below is made by a new poller on the same state directory (a restart), against
a local publisher that answers with ETag/Last-Modified and 304 to a matching If-None-Match.
``Recheck(every=0)`` stands for "the re-check interval has passed".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from wirewatch.pollers import fulltext, state
from wirewatch.pollers.rechecks import Recheck
from wirewatch.pollers.state import EntryState, PageState, SourceState

from .articles import ARTICLES, HARBOUR, TEASER, Pages, entry, poll

TITLE = "Harbour authority approves night dredging"
NOW = Recheck(every=0)
ORIGINAL = (ARTICLES / "article_chrome.html").read_text("utf-8")
EDITED = ORIGINAL.replace(
    "Work is expected to cost 48 million kroner", "Work is now expected to cost 52 million kroner"
)
EDITED_BODY = HARBOUR.replace("Work is expected to cost 48", "Work is now expected to cost 52")


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs of the pages handed to the extractor, in order."""
    seen: list[str] = []
    real = fulltext.extract

    def counting(content: bytes, content_type: str, url: str, title: str = "") -> fulltext.Article:
        seen.append(url)
        return real(content, content_type, url, title)

    monkeypatch.setattr(fulltext, "extract", counting)
    return seen


def stored_pages(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "state" / "courier.json").read_text("utf-8"))["pages"])


async def test_an_edited_page_under_an_unchanged_feed_entry_is_one_new_revision(
    pages: Pages, tmp_path: Path, extractions: list[str]
) -> None:
    pages.validators = True
    link = pages.serve("/news/harbour", ORIGINAL)
    story = entry("h1", link, TITLE)
    [v1] = await poll(pages, tmp_path, "always", story)
    assert "If-None-Match" not in pages.headers["127.0.0.1/news/harbour"]  # first: unconditional
    assert stored_pages(tmp_path)["courier:h1"][:2] == [
        '"' + hashlib.sha256(ORIGINAL.encode()).hexdigest()[:12] + '"',
        "Mon, 30 Nov 2026 08:00:00 GMT",
    ]

    # re-check of an unchanged page: a conditional GET, 304, nothing extracted, nothing emitted
    assert await poll(pages, tmp_path, "always", story, recheck=NOW) == []
    sent = pages.headers["127.0.0.1/news/harbour"]
    assert sent["If-None-Match"] == stored_pages(tmp_path)["courier:h1"][0]
    assert sent["If-Modified-Since"] == "Mon, 30 Nov 2026 08:00:00 GMT"
    assert (pages.not_modified, len(extractions)) == ({"/news/harbour": 1}, 1)

    pages.serve("/news/harbour", EDITED)
    [v2] = await poll(pages, tmp_path, "always", story, recheck=NOW)
    assert (v2["id"], v2["revision"], v2["body"], v2["summary"]) == (
        v1["id"], 2, EDITED_BODY, TEASER,
    )  # fmt: skip
    assert v2["content_hash"] != v1["content_hash"]
    assert len(extractions) == 2

    # the new page is what later re-checks compare with; the feed entry still matches
    assert await poll(pages, tmp_path, "always", story, recheck=NOW) == []
    assert (pages.not_modified, len(extractions)) == ({"/news/harbour": 2}, 2)


async def test_a_page_is_re_checked_at_most_every_interval(pages: Pages, tmp_path: Path) -> None:
    pages.validators = True
    link = pages.serve("/news/harbour", ORIGINAL)
    story = entry("h1", link, TITLE)
    await poll(pages, tmp_path, "always", story)
    pages.serve("/news/harbour", EDITED)
    # the default interval (30 min) has not passed: the feed is asked conditionally and is unchanged
    assert await poll(pages, tmp_path, "always", story, outcome="not_modified") == []
    assert (pages.hits["/news/harbour"], pages.not_modified) == (1, {"/feed.xml": 1})


async def test_a_changed_most_viewed_box_or_page_clock_is_no_revision(
    pages: Pages, tmp_path: Path, extractions: list[str]
) -> None:
    pages.validators = True
    clock = '<p class="clock">Page generated 30 November 2026 10:02</p>\n</footer>'
    link = pages.serve("/news/harbour", ORIGINAL.replace("</footer>", clock))
    story = entry("h1", link, TITLE)
    [v1] = await poll(pages, tmp_path, "always", story)
    assert v1["body"] == HARBOUR
    rechrome = (
        ORIGINAL.replace("</footer>", clock.replace("10:02", "10:32"))
        .replace("Celebrity chef opens seafood bar on the pier", "Storm warning for the weekend")
        .replace("Ten things to do this weekend", "Council votes on the new bridge")
    )
    pages.serve("/news/harbour", rechrome)
    assert await poll(pages, tmp_path, "always", story, recheck=NOW) == []
    assert (pages.hits["/news/harbour"], pages.not_modified, len(extractions)) == (2, {}, 2)


async def test_re_checks_take_the_least_recently_checked_pages_within_the_budget(
    pages: Pages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages.validators = True
    stories = [entry(f"s{n}", pages.serve(f"/news/{n}", ORIGINAL), f"Story {n}") for n in range(3)]
    assert len(await poll(pages, tmp_path, "always", *stories)) == 3
    budget = Recheck(every=0, per_poll=2)
    await poll(pages, tmp_path, "always", *stories, recheck=budget)
    assert pages.not_modified == {"/news/0": 1, "/news/1": 1}
    await poll(pages, tmp_path, "always", *stories, recheck=budget)
    assert pages.not_modified == {"/news/0": 2, "/news/1": 1, "/news/2": 1}

    # a new item's page comes first; re-checks get what is left of the poll's page budget
    monkeypatch.setattr(fulltext, "PAGES_PER_POLL", 2)
    new = entry("s3", pages.serve("/news/3", ORIGINAL), "Story 3")
    [added] = await poll(pages, tmp_path, "always", *stories, new, recheck=budget)
    assert (added["id"], added["body"]) == ("courier:s3", HARBOUR)
    assert pages.not_modified == {"/news/0": 2, "/news/1": 2, "/news/2": 1}
    assert pages.hits["/news/3"] == 1


async def test_pages_first_fetched_longer_ago_than_the_window_are_not_re_checked(
    pages: Pages, tmp_path: Path
) -> None:
    pages.validators = True
    link = pages.serve("/news/harbour", ORIGINAL)
    story = entry("h1", link, TITLE)
    await poll(pages, tmp_path, "always", story)
    pages.serve("/news/harbour", EDITED)
    closed = Recheck(window=0.0, every=0)
    assert await poll(pages, tmp_path, "always", story, recheck=closed, outcome="not_modified") == []
    assert pages.hits["/news/harbour"] == 1


async def test_a_failing_re_check_keeps_the_item_and_emits_nothing(
    pages: Pages, tmp_path: Path
) -> None:
    link = pages.serve("/news/harbour", ORIGINAL)
    story = entry("h1", link, TITLE)
    await poll(pages, tmp_path, "always", story)
    del pages.routes["/news/harbour"]  # 404 now
    assert await poll(pages, tmp_path, "always", story, recheck=NOW) == []
    pages.serve("/news/harbour", EDITED)
    [v2] = await poll(pages, tmp_path, "always", story, recheck=NOW)
    assert (v2["revision"], v2["body"]) == (2, EDITED_BODY)


def _page(first: float) -> PageState:
    return PageState('"e"', None, "0123456789abcdef", first, first)


def test_the_pages_kept_are_bounded_by_count_window_and_known_ids() -> None:
    ids = [f"s:{n}" for n in range(state.MAX_PAGES + 100)]
    entries = {i: EntryState("h", 1, 1000.0) for i in ids}
    pages = {i: _page(1000.0 + n) for n, i in enumerate(ids)}
    everything = set(ids)
    kept = SourceState("s", entries=entries).with_pages(
        pages, present=everything, window=86400.0, now=2000.0
    )
    assert sorted(kept.pages) == sorted(ids[100:])  # the most recently first fetched

    old = SourceState("s", entries=entries, pages={ids[0]: _page(0.0), ids[1]: _page(500.0)})
    assert list(old.with_pages({}, present=everything, window=1000.0, now=1200.0).pages) == [
        ids[1]
    ]
    out_of_feed = SourceState("s", entries=entries, pages={ids[0]: _page(1000.0)})
    assert out_of_feed.with_pages({}, present=set(), window=86400.0, now=1200.0).pages == {}


@pytest.mark.parametrize("compress", [False, True])
def test_pages_survive_the_stored_form(compress: bool) -> None:
    before = SourceState(
        "s",
        entries={"s:1": EntryState("h", 2, 10.0)},
        pages={"s:1": PageState('W/"x"', "Mon, 30 Nov 2026 08:00:00 GMT", "abcd", 5.0, 9.0)},
    )
    after = SourceState.from_json(json.loads(json.dumps(before.to_json(compress=compress))), "s")
    assert after == before
    with pytest.raises(ValueError, match="corrupt poller state"):
        SourceState.from_json({**before.to_json(), "pages": {"s:1": ["x"]}}, "s")


async def test_a_new_post_on_a_linked_live_blog_is_a_revision_with_the_post_first(
    pages: Pages, tmp_path: Path
) -> None:
    pages.validators = True
    page = (ARTICLES / "liveblog_page.html").read_text("utf-8")
    link = pages.serve("/live/storm", page)
    story = entry("live1", link, "Storm Ingrid live")
    [v1] = await poll(pages, tmp_path, "auto", story)
    post = (
        '{"@type":"BlogPosting","@id":"https://www.coastalcourier.example/live#block-7",'
        '"headline":"Red warning lifted","datePublished":"2026-12-03T11:30:00+00:00",'
        '"articleBody":"<p>The weather service has downgraded the warning to amber.</p>"},\n'
    )
    pages.serve("/live/storm", page.replace('"liveBlogUpdate":[\n', '"liveBlogUpdate":[\n' + post))
    [v2] = await poll(pages, tmp_path, "auto", story, recheck=NOW)
    assert (v2["id"], v2["revision"]) == (v1["id"], 2)
    assert v2["body"] == (
        "Red warning lifted\nThe weather service has downgraded the warning to amber.\n" + v1["body"]
    )


async def test_an_item_gone_from_the_feed_leaves_the_feed_asked_conditionally(
    pages: Pages, tmp_path: Path
) -> None:
    pages.validators = True
    first = entry("h1", pages.serve("/news/harbour", ORIGINAL), TITLE)
    second = entry("h2", pages.serve("/news/other", ORIGINAL), "Another story")
    await poll(pages, tmp_path, "always", first)
    [added] = await poll(pages, tmp_path, "always", second, recheck=NOW)  # h1 scrolled out
    assert (added["id"], sorted(stored_pages(tmp_path))) == ("courier:h2", ["courier:h2"])
    assert pages.hits["/news/harbour"] == 1
