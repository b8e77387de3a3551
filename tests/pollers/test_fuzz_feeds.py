"""Fuzzing the feed readers (issue #16): any document ends in valid raw items or one clear error.

Generated hostile documents: RSS/Atom/RDF with deep markup, huge attributes, lying
encodings, broken dates and corrupted bytes; JSON Feeds with every field of the wrong
type and deep nesting; live-blog pages with random, broken and deep JSON-LD blocks and
odd selector markup. For each, :func:`~wirewatch.pollers.poller.parse_document` (what
the poller runs on a fetched body) must return, never raise, and give either

* a list of items, each valid against ``schemas/raw_item.json``, with unique ids,
  capped lengths and dates in the window, and no entry lost to an internal exception, or
* no items and one clear error line.

CI runs a fixed seed and a bounded number of examples (a few seconds a reader); for a
longer run see CONTRIBUTING.md (``WIREWATCH_FUZZ=long``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirewatch.core.schemas import validate
from wirewatch.core.times import parse_rfc3339
from wirewatch.pollers.config import LiveblogSelectors, Source
from wirewatch.pollers.http import FetchOutcome
from wirewatch.pollers.items import (
    EARLIEST,
    MAX_AHEAD,
    MAX_AUTHORS,
    MAX_BODY,
    MAX_SUMMARY,
    MAX_TITLE,
)
from wirewatch.pollers.poller import parse_document

from .test_dates import FEEDPARSER_ODD_DATES


def fuzz(ci_examples: int) -> settings:
    """``ci_examples`` documents in the ``ci`` profile (tests/conftest.py: a fixed seed, a few
    seconds); with WIREWATCH_FUZZ=long, the long profile's random examples."""
    profile = settings()
    return settings(
        max_examples=ci_examples if profile.derandomize else profile.max_examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FETCHED_AT = "2026-12-04T12:00:00.000Z"
# A per-entry catch-all turned an internal exception into a warning: that entry was lost.
LOST_ENTRY = re.compile(r"^(entry|item|post) \d+: [A-Za-z]*(Error|Exception)\b")

# --- building blocks ----------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
dates = st.sampled_from(
    [*FEEDPARSER_ODD_DATES, "9999-12-31", "0001-01-01T00:00:00Z", "2026-12-04T11:00:00Z",
     "Tue, 03 Mar 2026 10:15:00 +0100", "1989-12-31T23:59:59Z", "2026-12-06T00:00:00Z"]
) | any_text  # fmt: skip


@st.composite
def markup(draw: st.DrawFn) -> str:
    """HTML-ish text: plain, nested thousands deep, huge attributes, scripts, entities."""
    text = draw(any_text)
    shape = draw(st.sampled_from(["plain", "deep", "attribute", "hostile", "long", "entities"]))
    if shape == "deep":
        depth = draw(st.sampled_from([50, 2_000, 6_000]))  # deeper only costs feedparser time
        tag = draw(st.sampled_from(["div", "b", "p", "table", "a"]))
        return f"<{tag}>" * depth + text + f"</{tag}>" * draw(st.sampled_from([0, depth]))
    if shape == "attribute":
        size = draw(st.sampled_from([1_000, 200_000]))
        return f'<a href="javascript:alert(1)" title="{"x" * size}" onclick="steal()">{text}</a>'
    if shape == "hostile":
        return f"<script>alert({text!r})</script><img src=x onerror=alert(1)><p>{text}</p>"
    if shape == "long":
        return (text or "word") * draw(st.sampled_from([100, 30_000]))  # no spaces: a hard cut
    if shape == "entities":
        return "&lt;b&gt;" * 5 + "&amp;lt;i&amp;gt;" * 5 + text + "&#0;&#xD800;&#1114112;&bogus;"
    return text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def deep_json(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def check(source: Source, content: bytes, content_type: str) -> None:
    """The property: valid items, or no items and one clear error line; never an exception."""
    fetched = FetchOutcome(source.url, "ok", content=content, headers={"content-type": content_type})
    items, error, kind, warnings = parse_document(source, fetched, FETCHED_AT)
    for warning in warnings:
        assert isinstance(warning, str) and warning and "\n" not in warning, warning
        assert not LOST_ENTRY.match(warning), warning
    if error is not None:
        assert items == [] and kind in ("parse", "unsafe_xml"), (kind, error)
        assert error.strip() and "\n" not in error and len(error) <= 1_000, error
        return
    fetched_moment = parse_rfc3339(FETCHED_AT)
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        validate("raw_item", item)
        assert len(item["title"]) <= MAX_TITLE and len(item["body"]) <= MAX_BODY
        assert len(item.get("summary", "")) <= MAX_SUMMARY
        assert len(item.get("authors", [])) <= MAX_AUTHORS
        for field in ("published_at", "updated_at"):
            if field in item:
                assert EARLIEST <= parse_rfc3339(item[field]) <= fetched_moment + MAX_AHEAD


# --- RSS / Atom / RDF -----------------------------------------------------------------------

ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252", "utf-16", "shift_jis", "koi8-r", "x-bogus"]


@st.composite
def xml_feed(draw: st.DrawFn) -> bytes:
    flavour = draw(st.sampled_from(["rss", "atom", "rdf"]))
    entries = []
    for _ in range(draw(st.integers(0, 5))):
        guid = draw(st.sampled_from(["a", "b", "urn:x", ""]) | any_text)
        title, body = draw(markup()), draw(markup())
        date, updated = draw(dates), draw(dates)
        packed = (
            f"<![CDATA[{body.replace(']]>', '')}]]>" if draw(st.booleans()) else escape(body)
        )
        if flavour == "atom":
            entries.append(
                f"<entry><id>{escape(guid)}</id><title type='html'>{escape(title)}</title>"
                f"<published>{escape(date)}</published><updated>{escape(updated)}</updated>"
                f"<author><name>{escape(draw(any_text))}</name></author>"
                f"<link href={quoteattr(draw(any_text))}/><content type='html'>{packed}</content></entry>"
            )
        else:
            entries.append(
                f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
                f"<link>{escape(draw(any_text))}</link><description>{packed}</description>"
                f"<pubDate>{escape(date)}</pubDate><dc:date>{escape(updated)}</dc:date></item>"
            )
    body = "".join(entries)
    if flavour == "atom":
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id>{body}</feed>'
    elif flavour == "rdf":
        doc = (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>F</title></channel>{body}</rdf:RDF>"
        )
    else:
        doc = (
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>F</title>'
            f"{body}</channel></rss>"
        )
    declared, actual = draw(st.sampled_from(ENCODINGS)), draw(st.sampled_from(ENCODINGS[:-1]))
    data = f'<?xml version="1.0" encoding="{declared}"?>{doc}'.encode(actual, errors="replace")
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return data


@fuzz(60)  # feedparser: ~0.1 s a document
@given(xml_feed(), st.sampled_from(["application/rss+xml", "text/xml; charset=koi8-r", "", "text/html"]))
def test_fuzz_rss_atom_rdf(document: bytes, content_type: str) -> None:
    check(Source(id="fz", kind="rss", url="https://fz.example/feed"), document, content_type)
    check(Source(id="fz", kind="auto", url="https://fz.example/feed"), document, content_type)


# --- JSON Feed --------------------------------------------------------------------------

json_item = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | any_text,
        "url": json_values | any_text,
        "title": json_values | markup(),
        "content_html": json_values | markup(),
        "content_text": json_values | markup(),
        "summary": json_values | markup(),
        "date_published": json_values | dates,
        "date_modified": json_values | dates,
        "authors": json_values | st.lists(st.fixed_dictionaries({"name": json_values | any_text})),
        "author": json_values | st.fixed_dictionaries({"name": json_values | any_text}),
    },
)


@st.composite
def json_feed(draw: st.DrawFn) -> bytes:
    doc: dict[str, Any] = {
        "version": draw(st.sampled_from(["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1"]) | json_values),
        "items": draw(st.lists(json_item | json_values, max_size=5) | json_values),
    }  # fmt: skip
    if draw(st.booleans()):
        doc["language"] = draw(json_values)
    text = json.dumps(doc, allow_nan=True)
    depth = draw(st.sampled_from([0, 0, 500, 5_000, 100_000]))
    if depth:  # nest one value deeper than any parser's recursion
        text = text.replace('"items": ', f'"items": [{deep_json(depth)}, ', 1) if '"items": [' in text else text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


@fuzz(200)
@given(json_feed())
def test_fuzz_json_feed(document: bytes) -> None:
    check(Source(id="jf", kind="auto", url="https://jf.example/feed.json"), document, "application/feed+json")
    check(Source(id="jf", kind="rss", url="https://jf.example/feed.json"), document, "application/json")


# --- live blogs: JSON-LD and selectors --------------------------------------------------------

json_ld_post = st.fixed_dictionaries(
    {"@type": st.just("BlogPosting") | json_values},
    optional={
        "@id": json_values | any_text | st.just("https://live.example/x#p1"),
        "url": json_values | any_text,
        "identifier": json_values,
        "headline": json_values | markup(),
        "name": json_values,
        "articleBody": json_values | markup(),
        "text": json_values,
        "datePublished": json_values | dates,
        "dateModified": json_values | dates,
        "author": json_values | st.fixed_dictionaries({"name": json_values | any_text}),
    },
)


@st.composite
def json_ld_block(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["posting", "posting", "graph", "random", "broken", "deep"]))
    if shape == "deep":
        return deep_json(draw(st.sampled_from([50, 5_000, 100_000])))
    if shape == "broken":
        return '{"@type": "LiveBlogPosting", "liveBlogUpdate": [' + draw(any_text)
    if shape == "random":
        return json.dumps(draw(json_values))
    updates = draw(st.lists(json_ld_post | json_values, max_size=5) | json_values | json_ld_post)
    posting = {"@type": draw(st.sampled_from(["LiveBlogPosting", ["LiveBlogPosting"], "https://schema.org/LiveBlogPosting"])),
               "liveBlogUpdate": updates}  # fmt: skip
    if shape == "graph":
        return json.dumps({"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, posting]})
    return json.dumps(posting).replace("</", "<\\/")


@st.composite
def selector_blocks(draw: st.DrawFn) -> str:
    blocks = []
    for _ in range(draw(st.integers(0, 4))):
        block_id = draw(st.sampled_from(["b1", "b2", "b1"]) | any_text)
        blocks.append(
            f"<article class=post id={quoteattr(block_id)}><time datetime={quoteattr(draw(dates))}>"
            f"{escape(draw(dates))}</time><h2>{draw(markup())}</h2><div class=body>{draw(markup())}</div>"
            "</article>"
        )
    return "".join(blocks)


@fuzz(120)
@given(st.lists(json_ld_block(), max_size=3), selector_blocks(), st.sampled_from(["utf-8", "windows-1252", "utf-16"]))
def test_fuzz_live_blog_pages(blocks: list[str], posts: str, encoding: str) -> None:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    page = f"<!doctype html><html><head>{scripts}</head><body>{posts}</body></html>"
    content = page.encode(encoding, errors="replace")
    ctype = f"text/html; charset={encoding}"
    check(Source(id="lb", kind="liveblog", url="https://live.example/x"), content, ctype)
    selectors = LiveblogSelectors(block="article.post", time="time", title="h2", body="div.body")
    check(Source(id="lb", kind="liveblog", url="https://live.example/x", liveblog=selectors), content, ctype)
