"""Building raw items (``schemas/raw_item.json``): ids, hashes, times, URLs.

Feeds and live blogs both build items through here, so an id, a content
hash or a timestamp means the same thing whatever the source kind.
"""

from __future__ import annotations

import hashlib
import re
import time
from calendar import timegm
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from feedparser.datetimes import _parse_date

from wirewatch.pollers.config import Source

MAX_ID = 512


_SAFE_ID = re.compile(r"[\w.~:/?#\[\]@!$&()*+,;=%-]+")
_SCRIPT_SCHEME = re.compile(r"(?i)script:|data:")


def item_id(source_id: str, local_id: str) -> str:
    """Globally unique, stable item id: ``<source>:<entry id>``.

    Ids that are too long or are not plain URL-ish tokens (markup, spaces,
    ``javascript:``) are replaced by their SHA-256: ids are shown and linked.
    """
    candidate = f"{source_id}:{local_id}"
    if (
        len(candidate) <= MAX_ID
        and _SAFE_ID.fullmatch(local_id)
        and not _SCRIPT_SCHEME.search(local_id)
    ):
        return candidate
    return f"{source_id}:sha256:{hashlib.sha256(local_id.encode('utf-8', 'replace')).hexdigest()}"


def block_id(raw: str, title: str, when: str | None) -> str:
    """A live-blog block id safe to show: the page's own when it is a plain token, else a hash."""
    raw = raw.strip()
    if raw and len(raw) <= 200 and re.fullmatch(r"[\w.:-]+", raw):
        return raw
    seed = raw or f"{when}\n{title}"
    return "h-" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:16]


def content_hash(title: str, body: str) -> str:
    """What decides "edited": the text a reader sees (title and body), nothing else."""
    return hashlib.sha256(f"{title}\n\x1f\n{body}".encode()).hexdigest()


def rfc3339(moment: datetime) -> str:
    """UTC RFC 3339 with a literal ``Z`` (second precision, as sources give it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_struct(value: time.struct_time | None) -> str | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) -> RFC 3339."""
    if value is None:
        return None
    try:
        return rfc3339(datetime.fromtimestamp(timegm(value), UTC))
    except (OverflowError, ValueError, OSError):
        return None


def parse_time(value: Any) -> str | None:
    """Any date string a source may use (ISO 8601, RFC 822, ...) -> UTC RFC 3339, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return rfc3339(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    return from_struct(_parse_date(text))


def safe_url(value: Any, base: str = "") -> str:
    """Only absolute http(s) URLs leave the poller; anything else (``javascript:``...) is dropped."""
    if not isinstance(value, str):
        return base
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return base
    if (
        parts.scheme.lower() in ("http", "https")
        and parts.netloc
        and url.isprintable()
        and " " not in url
    ):
        return url
    return base


def build_item(
    source: Source,
    *,
    local_id: str,
    url: str,
    title: str,
    body: str,
    published_at: str | None,
    fetched_at: str,
    updated_at: str | None = None,
    summary: str = "",
    authors: list[str] | None = None,
    language: str | None = None,
    tags: list[str] | None = None,
    liveblog: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A raw item without ``revision`` (the state decides that)."""
    item: dict[str, Any] = {
        "id": item_id(source.id, local_id),
        "source": {"id": source.id, **({"name": source.name} if source.name else {})},
        "url": url,
        "title": title,
        "body": body,
        "published_at": published_at or updated_at or fetched_at,
        "fetched_at": fetched_at,
        "content_hash": content_hash(title, body),
    }
    if updated_at and updated_at != item["published_at"]:
        item["updated_at"] = updated_at
    if summary:
        item["summary"] = summary
    if authors:
        item["authors"] = authors
    if language:
        item["language"] = language
    merged = list(dict.fromkeys([*source.tags, *(tags or [])]))
    if merged:
        item["tags"] = merged
    if liveblog:
        item["liveblog"] = liveblog
    return item
