"""RSS / Atom / RDF (feedparser) and JSON Feed (json) -> raw items.

feedparser 6.0 has no JSON Feed support, so JSON Feed 1.x is read here with
:mod:`json`. XML safety: feedparser strips every DOCTYPE entity declaration
except plain literal ones, disables external entities, and the bundled expat
(>= 2.4) caps entity amplification. On top of that :func:`unsafe_xml_reason`
refuses documents whose prolog declares nested (billion laughs) or external
general entities before any parser sees them: a clear per-source error
instead of relying on library internals.
"""

from __future__ import annotations

import io
import json
import re
import xml.sax
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
from selectolax.lexbor import LexborHTMLParser

from wirewatch.pollers.config import Source
from wirewatch.pollers.html import html_to_text, inline_text
from wirewatch.pollers.http import decode_text
from wirewatch.pollers.items import (
    build_item,
    describe,
    from_struct,
    read_time,
    safe_url,
)

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z]")
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(%\s*)?[^\s>]+\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.I | re.S
)
_ENTITY_REF = re.compile(rb"[&%][A-Za-z_:]")
_XML_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?(<\?xml[^>]*?)\s+encoding\s*=\s*(["'])([^"'>]*)\2""")
MAX_ENTITIES = 64
_HTML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.I | re.S
)
#: ``<link rel="alternate" type=...>`` types that announce a feed (RSS/Atom autodiscovery, JSON Feed 1.1).
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
#: Feed links sit in the ``<head>``: the first 512 KB of a page is plenty.
_DISCOVERY_BYTES = 512 * 1024


@dataclass
class ParsedFeed:
    """Items found, and either nothing wrong or why the document was unusable."""

    items: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_kind: str = "parse"
    is_feed: bool = True
    warnings: list[str] = field(default_factory=list)


def unsafe_xml_reason(content: bytes) -> str | None:
    """Why the XML prolog is refused (entity bomb or external entity), or None."""
    match = _FIRST_ELEMENT.search(content)
    prolog = content[: match.start()] if match else content
    if b"<!ENTITY" not in prolog.upper():
        return None
    declarations = _ENTITY_DECL.findall(prolog)
    if len(declarations) > MAX_ENTITIES:
        return f"refused XML: {len(declarations)} entity declarations (entity-expansion bomb?)"
    for parameter, value in declarations:
        if value.upper() in (b"SYSTEM", b"PUBLIC"):
            if not parameter:
                return "refused XML: external entity declaration (XXE)"
            continue
        if _ENTITY_REF.search(value):
            return "refused XML: entity defined through other entities (billion laughs)"
    return None


def _without_garbled_encoding_name(content: bytes) -> tuple[bytes, str | None]:
    """The document without an XML declaration's encoding name that is not ASCII, and a warning.

    Encoding names are ASCII; feedparser raises ``UnicodeDecodeError`` on any other byte
    there (found by tests/pollers/test_fuzz_feeds.py). Without the name, the encoding is
    taken from the HTTP header or guessed, and the entries are read.
    """
    match = _XML_ENCODING.match(content)
    if match is None or match.group(3).isascii():
        return content, None
    shown = match.group(3).decode("latin-1")[:40]
    return (
        content[: match.end(1)] + content[match.end() :],
        f"ignored the XML declaration's encoding name {shown!r} (not ASCII)",
    )


def not_a_feed(content: bytes, content_type: str, page_url: str, why: object) -> str:
    """Why a document that feedparser could not read is no feed, in the user's terms.

    An HTML page (a site's home page given as a feed) says so and names the feeds the
    page advertises; other documents say what the XML parser found, without its
    ``<unknown>:2:0`` position (counted in feedparser's rewritten copy, not the document).
    """
    if looks_like_html(content, content_type):
        return "the URL answered with an HTML page, not a feed" + advertised_hint(content, content_type, page_url)
    if isinstance(why, xml.sax.SAXParseException):
        return f"not a feed: not well-formed XML ({' '.join(why.getMessage().split())[:200]})"
    return f"not a feed: {' '.join(str(why).split())[:300]}" if why else "not a feed"


def looks_like_html(content: bytes, content_type: str) -> bool:
    """An HTML document: it starts like one, or is served as HTML and holds markup."""
    if _HTML_START.match(content[:8192]):
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("text/html", "application/xhtml+xml") and b"<" in content[:4096]


def advertised_feeds(content: bytes, content_type: str, page_url: str) -> list[str]:
    """Absolute URLs of the feeds an HTML page advertises, in page order.

    ``<link rel="alternate" type="application/rss+xml|atom+xml|feed+json" href>``
    (feed autodiscovery), resolved against ``<base href>`` and the page's URL.
    """
    tree = LexborHTMLParser(decode_text(content[:_DISCOVERY_BYTES], content_type).text)
    base = page_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = safe_url(urljoin(page_url, (base_node.attributes.get("href") or "").strip()), page_url)
    found: list[str] = []
    for node in tree.css("link[href]"):
        attrs = node.attributes
        rel = (attrs.get("rel") or "").lower().split()
        media = (attrs.get("type") or "").split(";", 1)[0].strip().lower()
        if "alternate" not in rel or media not in FEED_TYPES:
            continue
        url = safe_url(urljoin(base, (attrs.get("href") or "").strip()))
        if url and url not in found:
            found.append(url)
    return found


def advertised_hint(content: bytes, content_type: str, page_url: str) -> str:
    """``; it advertises A and B`` (the first two, then how many more), or where none is."""
    feeds = advertised_feeds(content, content_type, page_url)
    if not feeds:
        return ", and the page advertises no feed"
    named = " and ".join(feeds[:2])
    more = f" (and {len(feeds) - 2} more)" if len(feeds) > 2 else ""
    return f"; it advertises {named}{more}"


def looks_like_json(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def parse_feed(
    content: bytes, *, source: Source, page_url: str, content_type: str, fetched_at: str
) -> ParsedFeed:
    """Parse any supported feed format; never raises for bad input."""
    if looks_like_json(content):
        return _parse_json_feed(content, source=source, fetched_at=fetched_at)
    reason = unsafe_xml_reason(content)
    if reason:
        return ParsedFeed(error=reason, error_kind="unsafe_xml")
    content, repaired = _without_garbled_encoding_name(content)
    try:
        parsed = feedparser.parse(
            io.BytesIO(content),
            response_headers={
                "content-type": content_type or "application/xml",
                "content-location": page_url,
            },
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except (UnicodeError, LookupError) as exc:  # feedparser's encoding detection gave up
        return ParsedFeed(error=f"not a feed: undecodable ({' '.join(str(exc).split())[:200]})", is_feed=False)
    if not parsed.get("version") and not parsed.entries:
        return ParsedFeed(error=not_a_feed(content, content_type, page_url, parsed.get("bozo_exception")), is_feed=False)
    result = ParsedFeed(warnings=[repaired] if repaired else [])
    if isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        result.warnings.append(f"decode: {parsed.bozo_exception}")
    language = inline_text(parsed.feed.get("language")) or None
    for index, entry in enumerate(parsed.entries):
        try:
            result.items.append(_entry_item(entry, source, fetched_at, language))
        except Exception as exc:  # one broken entry must not cost the others
            result.warnings.append(f"entry {index}: {describe(exc)}")
    return result


def _entry_body(entry: Any) -> str:
    contents = entry.get("content") or []
    best = max((c.get("value") or "" for c in contents), key=len, default="")
    return html_to_text(best or entry.get("summary") or "")


def _entry_item(
    entry: Any, source: Source, fetched_at: str, language: str | None
) -> dict[str, Any]:
    title = inline_text(entry.get("title"))
    body = _entry_body(entry)
    summary = html_to_text(entry.get("summary"))
    link = safe_url(entry.get("link"))
    authors = [
        inline_text(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict)
    ]
    return build_item(
        source,
        local_id=(entry.get("id") or "").strip(),
        url=link,
        title=title,
        body=body,
        summary=summary,
        published=from_struct(entry.get("published_parsed"), entry.get("published")),
        updated=from_struct(entry.get("updated_parsed"), entry.get("updated")),
        fetched_at=fetched_at,
        authors=authors,
        language=language,
    )


def _parse_json_feed(content: bytes, *, source: Source, fetched_at: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except RecursionError:
        return ParsedFeed(error="invalid JSON: nested too deeply", is_feed=False)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        return ParsedFeed(error=f"invalid JSON: {' '.join(str(exc).split())[:200]}", is_feed=False)
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        return ParsedFeed(error="JSON but not a JSON Feed (no jsonfeed.org version)", is_feed=False)
    result = ParsedFeed()
    language = inline_text(doc.get("language")) if isinstance(doc.get("language"), str) else None
    raw_entries = doc.get("items")
    entries: list[Any] = raw_entries if isinstance(raw_entries, list) else []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            result.warnings.append(f"item {index}: not an object")
            continue
        try:
            result.items.append(_json_item(entry, source, fetched_at, language or None))
        except Exception as exc:  # one broken entry must not cost the others
            result.warnings.append(f"item {index}: {describe(exc)}")
    return result


def _json_item(
    entry: dict[str, Any], source: Source, fetched_at: str, language: str | None
) -> dict[str, Any]:
    title = inline_text(_str(entry.get("title")))
    html = _str(entry.get("content_html"))
    body = (
        html_to_text(html)
        if html
        else html_to_text(_str(entry.get("content_text")).replace("<", "&lt;"))
    )
    link = safe_url(entry.get("url"))
    raw_id = entry.get("id")
    people = entry.get("authors")
    if not isinstance(people, list):
        people = [entry["author"]] if isinstance(entry.get("author"), dict) else []
    authors = [inline_text(_str(p.get("name"))) for p in people if isinstance(p, dict)]
    summary = html_to_text(_str(entry.get("summary")))
    return build_item(
        source,
        local_id=str(raw_id).strip() if isinstance(raw_id, str | int | float) else "",
        url=link,
        title=title,
        body=body,
        summary=summary,
        published=read_time(entry.get("date_published")),
        updated=read_time(entry.get("date_modified")),
        fetched_at=fetched_at,
        authors=authors,
        language=language,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
