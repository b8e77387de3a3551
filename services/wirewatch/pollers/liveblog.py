"""Live-blog pages -> one raw item per post.

Preferred: schema.org ``LiveBlogPosting`` JSON-LD (its ``liveBlogUpdate``
entries, found anywhere, including inside ``@graph``): publishers maintain it
for search engines, so it is the most stable structure on the page. Fallback:
the source's CSS selectors (``liveblog.block`` etc. in sources.yaml).

Only post content is read: JSON-LD never contains page chrome, and with
selectors only the inside of each block is read, minus chrome found inside it
(share buttons, newsletter boxes, nav, asides, forms; see
:data:`wirewatch.pollers.html.CHROME_SELECTORS`).

Block ids: JSON-LD ``@id``/``url`` fragment or ``identifier``; selector
``id_attr`` (default ``id``). A post without any id falls back to a hash of
its time and headline, so editing such a post's headline makes a new item.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from wirewatch.core.times import rfc3339
from wirewatch.pollers.config import LiveblogSelectors, Source
from wirewatch.pollers.html import html_to_text, inline_text, node_text
from wirewatch.pollers.items import (
    SourceTime,
    block_id,
    build_item,
    describe,
    parse_time,
    read_time,
    safe_url,
)

_MAX_JSONLD_DEPTH = 20


@dataclass
class ParsedPage:
    items: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""
    """``json-ld`` or ``selectors``; empty when the page had neither."""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    names = value if isinstance(value, list) else [value]
    return {str(n).rsplit("/", 1)[-1] for n in names if n}


def _walk_jsonld(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document (lists, ``@graph``, nesting)."""
    if depth > _MAX_JSONLD_DEPTH:
        return
    if isinstance(value, list):
        for element in value:
            yield from _walk_jsonld(element, depth + 1)
    elif isinstance(value, dict):
        yield value
        for key, element in value.items():
            if key != "liveBlogUpdate" and isinstance(element, list | dict):
                yield from _walk_jsonld(element, depth + 1)


@dataclass
class FoundUpdates:
    """The posts of the page's first LiveBlogPosting (None: there is none) and what was odd."""

    posts: list[dict[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)


def find_liveblog_updates(tree: LexborHTMLParser) -> FoundUpdates:
    """The ``liveBlogUpdate`` posts of the first LiveBlogPosting; bad JSON-LD blocks are skipped.

    A block that is not JSON or nests deeper than the parser can go (``RecursionError``)
    costs only itself: the blocks after it are still read, and the page gets one warning.
    """
    found = FoundUpdates()
    skipped: list[str] = []
    for number, script in enumerate(tree.css('script[type="application/ld+json"]'), 1):
        try:
            doc = json.loads(script.text(deep=True) or "null")
        except RecursionError:
            skipped.append(f"#{number} nested too deeply")
            continue
        except ValueError as exc:
            skipped.append(f"#{number} invalid JSON ({' '.join(str(exc).split())[:80]})")
            continue
        for obj in _walk_jsonld(doc):
            if "LiveBlogPosting" in _types(obj):
                found.posts = _posts(obj.get("liveBlogUpdate"), found.warnings)
                break
        if found.posts is not None:
            break
    if skipped:
        found.warnings.insert(0, f"skipped JSON-LD block {', '.join(skipped)}")
    return found


def _posts(updates: Any, warnings: list[str]) -> list[dict[str, Any]]:
    """The post objects of a ``liveBlogUpdate`` value; one warning for anything else in it."""
    if updates is None or updates in ("", [], {}):  # an empty live blog, not an odd one
        return []
    if isinstance(updates, dict):
        return [updates]
    if not isinstance(updates, list):
        warnings.append(
            f"LiveBlogPosting.liveBlogUpdate is a {_json_type(updates)}, not a list of posts: "
            "no posts read"
        )
        return []
    posts = [u for u in updates if isinstance(u, dict)]
    if len(posts) < len(updates):
        odd = sorted({_json_type(u) for u in updates if not isinstance(u, dict)})
        warnings.append(
            f"{len(updates) - len(posts)} of {len(updates)} liveBlogUpdate entries are not "
            f"objects ({', '.join(odd)}): skipped"
        )
    return posts


def _json_type(value: Any) -> str:
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "list"}
    return "null" if value is None else names.get(type(value), "object")


def _text_value(value: Any) -> str:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value if isinstance(value, str) else ""


def _post_id(post: dict[str, Any], title: str, when: str | None) -> str:
    for key in ("@id", "url"):
        ref = _text_value(post.get(key))
        if ref and urlsplit(ref).fragment:
            return block_id(urlsplit(ref).fragment, title, when)
    for key in ("identifier", "@id", "url"):
        ref = _text_value(post.get(key)) or (
            str(post[key]) if isinstance(post.get(key), int) else ""
        )
        if ref:
            return block_id(ref, title, when)
    return block_id("", title, when)


def _authors(value: Any) -> list[str]:
    people = value if isinstance(value, list) else [value]
    return [inline_text(_text_value(p.get("name") if isinstance(p, dict) else p)) for p in people]


def parse_liveblog(html: str, *, source: Source, page_url: str, fetched_at: str) -> ParsedPage:
    """Posts of a live-blog page: JSON-LD first, else the configured selectors."""
    tree = LexborHTMLParser(html)
    found = find_liveblog_updates(tree)
    if found.posts is not None:
        page = ParsedPage(method="json-ld", warnings=found.warnings)
        for index, post in enumerate(found.posts):
            try:
                page.items.append(_post_item(post, source, page_url, fetched_at))
            except Exception as exc:  # one broken post must not cost the others
                page.warnings.append(f"post {index}: {describe(exc)}")
        return page
    if source.liveblog is None:
        return ParsedPage(
            error="no LiveBlogPosting JSON-LD on the page and no liveblog selectors configured",
            warnings=found.warnings,
        )
    page = _by_selectors(tree, source, source.liveblog, page_url, fetched_at)
    page.warnings[:0] = found.warnings
    return page


def post_text(post: dict[str, Any]) -> tuple[str, str]:
    """A JSON-LD ``BlogPosting``'s headline and text, as plain text."""
    title = inline_text(_text_value(post.get("headline")) or _text_value(post.get("name")))
    body = html_to_text(_text_value(post.get("articleBody")) or _text_value(post.get("text")))
    return title, body


def _post_item(
    post: dict[str, Any], source: Source, page_url: str, fetched_at: str
) -> dict[str, Any]:
    """One JSON-LD ``BlogPosting`` -> a raw item."""
    title, body = post_text(post)
    published = read_time(_text_value(post.get("datePublished")) or post.get("datePublished"))
    updated = read_time(_text_value(post.get("dateModified")) or post.get("dateModified"))
    # the hash seed of id-less posts keeps its historical form: parse_time's string
    bid = _post_id(post, title, parse_time(post.get("datePublished")))
    url = safe_url(_text_value(post.get("url"))) or safe_url(_text_value(post.get("@id")), page_url)
    return build_item(
        source,
        local_id=bid,
        url=url,
        title=title,
        body=body,
        published=published,
        updated=updated,
        fetched_at=fetched_at,
        authors=_authors(post.get("author")),
        liveblog={"page_url": page_url, "block_id": bid},
    )


def _first(block: LexborNode, selector: str | None) -> LexborNode | None:
    return block.css_first(selector) if selector else None


def _by_selectors(
    tree: LexborHTMLParser, source: Source, sel: LiveblogSelectors, page_url: str, fetched_at: str
) -> ParsedPage:
    page = ParsedPage(method="selectors")
    blocks = tree.css(sel.block)
    if not blocks:
        page.error = f"selector {sel.block!r} matched no post on the page"
        return page
    for index, block in enumerate(blocks):
        time_node = _first(block, sel.time)
        when: SourceTime | None = None
        if time_node is not None:
            given = [read_time(time_node.attributes.get("datetime")), read_time(time_node.text(deep=True))]
            present = [t for t in given if t is not None]
            when = next((t for t in present if t.moment is not None), None) or next(iter(present), None)
        when_text = rfc3339(when.moment) if when is not None and when.moment else None
        title_node = _first(block, sel.title)
        title = " ".join(node_text(title_node).split()) if title_node is not None else ""
        body_node = _first(block, sel.body) if sel.body else block
        if body_node is None:
            page.warnings.append(f"post {index}: body selector {sel.body!r} matched nothing")
            continue
        if body_node is block:
            for node in (title_node, time_node):
                if node is not None:
                    node.decompose()
        body = node_text(body_node)
        raw_id = block.attributes.get(sel.id_attr or "id") or ""
        bid = block_id(raw_id, title, when_text)
        page.items.append(
            build_item(
                source,
                local_id=bid,
                url=f"{page_url.split('#', 1)[0]}#{quote(bid)}" if raw_id else page_url,
                title=title,
                body=body,
                published=when,
                fetched_at=fetched_at,
                liveblog={"page_url": page_url, "block_id": bid},
            )
        )
    return page
