"""The console's search over plain HTTP (no JavaScript) and the store's paged search (#17 item 8):
"officials" matched 72 items and the page said "50 results" with no way to the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from wirewatch.embedded.search_view import SearchRequest
from wirewatch.embedded.web import create_app, start_web
from wirewatch.search.highlight import highlight, snippet, terms_of
from wirewatch.sinks.sqlite import SqliteStore
from wirewatch.sinks.store import MAX_WINDOW

from .console_items import OFFICIALS, console_items, ids

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def desk_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    global NOW  # the items' clock starts with the store, not when pytest collected this module (a
    NOW = datetime.now(UTC).replace(microsecond=0)  # suite minutes long moved "last 1 h" under them)
    store = SqliteStore(tmp_path_factory.mktemp("desk"))
    assert {o.status for o in store.index_items_sync(console_items(NOW))} == {"indexed"}
    return store


@pytest.fixture
async def console(desk_store: SqliteStore) -> AsyncIterator[str]:
    runner, url = await start_web(create_app(desk_store, desk_store), "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()


async def test_search_page_counts_every_match_and_serves_any_page(desk_store: SqliteStore) -> None:
    page = await desk_store.search_page("officials", offset=40, limit=20)
    assert (page.total, [h.id for h in page.hits]) == (72, ids(range(41, 61)))
    last = await desk_store.search_page("officials", offset=60, limit=20)
    assert (last.total, [h.id for h in last.hits]) == (72, ids(range(61, 73)))
    beyond = await desk_store.search_page("officials", offset=80, limit=20)
    assert (beyond.total, beyond.hits) == (72, [])
    with pytest.raises(ValueError, match="beyond the first 10,000"):
        await desk_store.search_page("officials", offset=MAX_WINDOW, limit=1)


async def test_relevance_ranks_title_words_first_then_newest(desk_store: SqliteStore) -> None:
    page = await desk_store.search_page("officials", limit=3, sort="relevance")
    assert [h.id for h in page.hits] == ["off:40", "off:01", "off:02"]


async def test_since_and_until_bound_published_at(desk_store: SqliteStore) -> None:
    page = await desk_store.search_page("officials", since=NOW - timedelta(hours=1), until=NOW - timedelta(minutes=20))
    assert (page.total, [h.id for h in page.hits]) == (6, ids(range(3, 9)))


def test_highlight_marks_the_query_words_as_normalised_in_any_script() -> None:
    assert highlight("Zelenský <b>visits</b> Prague", terms_of("Zelensky")) == \
        "<mark>Zelenský</mark> &lt;b&gt;visits&lt;/b&gt; Prague"
    assert highlight("Делегации встретились; Москва подтвердила", terms_of("москва")) == \
        "Делегации встретились; <mark>Москва</mark> подтвердила"
    assert highlight("代表团抵达莫斯科举行会谈", terms_of("莫斯科")) == "代表团抵达<mark>莫斯科</mark>举行会谈"
    assert highlight("التقى الرئيس في موسكو", terms_of("موسكو")) == "التقى الرئيس في <mark>موسكو</mark>"
    assert highlight("Grain corridor: officials say the corridor holds", terms_of('"grain corridor" offic*')) == \
        "<mark>Grain</mark> <mark>corridor</mark>: <mark>officials</mark> say the <mark>corridor</mark> holds"
    # NOT words and other fields mark nothing
    assert highlight("Kyiv and Odesa", terms_of("Kyiv AND NOT Odesa AND source:odesa")) == "<mark>Kyiv</mark> and Odesa"


def test_snippet_is_cut_around_the_first_match() -> None:
    body = "Opening words. " * 40 + "Then the grain corridor reopened. " + "Closing words. " * 40
    shown = snippet(body, terms_of("corridor"))
    assert shown.startswith("…") and shown.endswith("…")
    assert "the grain <mark>corridor</mark> reopened." in shown
    assert len(str(shown).replace("<mark>", "").replace("</mark>", "")) <= 222
    assert snippet("short <script>", terms_of("x")) == "short &lt;script&gt;"


def test_filters_become_clauses_and_links_carry_everything() -> None:
    request = SearchRequest.from_params({"q": "officials OR port", "source": "kyiv-daily", "time": "1h", "page": "3"})
    assert request.query() == '(officials OR port) AND source.id:"kyiv-daily" AND published_at:[now-1h TO now]'
    assert request.offset == 40
    assert request.with_filter("entity", 'Bank "of" Japan') == \
        "/?q=officials+OR+port&source=kyiv-daily&entity=Bank+%22of%22+Japan&time=1h"
    assert [(c.label, c.remove) for c in request.chips()] == [
        ("source: kyiv-daily", "/?q=officials+OR+port&time=1h"),
        ("time: last 1 h", "/?q=officials+OR+port&source=kyiv-daily"),
    ]
    two = SearchRequest.from_params({"entity": 'Bank "of" Japan', "verdict": "bogus", "time": "custom",
                                     "from": "2026-12-01", "to": "not a day"})
    assert two.query() == 'entity:"Bank \\"of\\" Japan" AND published_at:[2026-12-01 TO *]'


def one(node: Any, selector: str) -> Any:
    """The first element ``selector`` finds under ``node`` (a test failure when there is none)."""
    found = node.css_first(selector)
    assert found is not None, selector
    return found


def page_of(html: str) -> tuple[str, list[str]]:
    tree = HTMLParser(html)
    label = tree.css_first("#paging-label")
    return (label.text() if label else ""), [li.attributes["data-id"] or "" for li in tree.css("li.hit")]


async def test_paging_without_javascript(console: str) -> None:
    async with httpx.AsyncClient(base_url=console) as client:
        first = (await client.get("/", params={"q": "officials"})).text
        assert page_of(first) == ("1–20 of 72", ids(range(1, 21)))
        tree = HTMLParser(first)
        assert tree.css_first('a[rel="prev"]') is None
        next_link = one(tree, 'a[rel="next"]').attributes["href"]
        assert next_link == "/?q=officials&page=2"
        third = (await client.get("/?q=officials&page=3")).text
        assert page_of(third) == ("41–60 of 72", ids(range(41, 61)))
        tree = HTMLParser(third)
        assert [one(tree, f'a[rel="{r}"]').attributes["href"] for r in ("prev", "next")] == [
            "/?q=officials&page=2", "/?q=officials&page=4"]
        fourth = (await client.get("/?q=officials&page=4")).text
        assert page_of(fourth) == ("61–72 of 72", ids(range(61, OFFICIALS + 1)))
        assert HTMLParser(fourth).css_first('a[rel="next"]') is None


async def test_filters_narrow_to_exactly_the_expected_items(console: str) -> None:
    async with httpx.AsyncClient(base_url=console) as client:
        async def found(**params: Any) -> tuple[str, list[str]]:
            response = await client.get("/", params=params)
            assert response.status_code == 200, response.text
            return page_of(response.text)

        assert await found(q="officials", time="1h") == ("1–8 of 8", ids(range(1, 9)))
        assert await found(q="officials", entity="Japan") == ("1–4 of 4", ids([15, 30, 45, 60]))
        assert await found(q="officials", language="en", source="kyiv-daily", time="1h") == (
            "1–3 of 3", ids([2, 5, 8]))  # kyiv-daily: n % 3 == 2; uk only every 9th
        assert await found(q="officials", language="uk", entity="Japan") == ("1–1 of 1", ids([45]))
        assert await found(verdict="duplicate") == ("1–6 of 6", ids([12, 24, 36, 48, 60, 72]))
        assert await found(q="officials", verdict=["update", "duplicate"], time="1h") == ("1–1 of 1", ids([7]))
        assert (await found(q="*", sort="relevance"))[0] == "1–20 of 76"


async def test_results_show_marked_titles_and_snippets_and_clickable_chips(console: str) -> None:
    async with httpx.AsyncClient(base_url=console) as client:
        tree = HTMLParser((await client.get("/", params={"q": "Zelensky"})).text)
        hit = one(tree, 'li.hit[data-id="cz:1"]')
        assert one(hit, "a.title").html == (
            '<a class="title" dir="auto" lang="cs" href="https://ct24.example/1" rel="noopener noreferrer nofollow">'
            "<mark>Zelenský</mark> navštívil Prahu</a>")
        assert one(hit, "p.snippet").html == (
            '<p class="snippet" dir="auto" lang="cs">Prezident <mark>Zelenský</mark> jednal o &lt;muniční&gt; '
            "iniciativě.</p>")
        assert [(a.text(), a.attributes["href"]) for a in hit.css("a.chip")] == [
            ("ČT24", "/?q=Zelensky&source=ct24"), ("cs", "/?q=Zelensky&language=cs"),
            ("new", "/?q=Zelensky&verdict=new")]
        tree = HTMLParser((await client.get("/", params={"q": "officials", "entity": "Japan"})).text)
        assert one(tree, "#ran").text() == '(officials) AND entity:"Japan"'
        chip = one(tree, ".active-filters a.chip")
        assert (chip.text(), chip.attributes["href"]) == ("entity: Japan ×", "/?q=officials")


async def test_json_search_pages_with_a_total(console: str) -> None:
    async with httpx.AsyncClient(base_url=console) as client:
        data = (await client.get("/api/search", params={"q": "officials", "offset": 70, "limit": 5})).json()
        assert (data["total"], [h["id"] for h in data["hits"]]) == (72, ids([71, 72]))


async def test_a_story_with_folded_items_links_its_story_view(console: str) -> None:
    async with httpx.AsyncClient(base_url=console) as client:
        tree = HTMLParser((await client.get("/")).text)
    story = one(tree, 'li.story[data-story="off:01"]')
    folded = one(story, "a.folded")
    assert (folded.text(), folded.attributes["href"]) == ("6 more folded", "/story/off%3A01")
