"""Building raw items (``schemas/raw_item.json``): ids, hashes, times, URLs.

Feeds and live blogs both build items through here, so an id, a content
hash or a timestamp means the same thing whatever the source kind.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from feedparser.datetimes import _parse_date

from wirewatch.core.text import shorten
from wirewatch.core.times import parse_rfc3339, rfc3339
from wirewatch.pollers.config import Source

MAX_ID = 512
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
"""Dates before this are not news dates (epoch 0, year 1, two-digit-year mistakes)."""
MAX_AHEAD = timedelta(days=1)
"""Dates further than this after the fetch are not publication dates (9999-12-31, typos)."""
MAX_TITLE = 1_000
MAX_SUMMARY = 10_000
MAX_BODY = 100_000
MAX_AUTHOR = 200
MAX_AUTHORS = 50


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


def describe(exc: BaseException) -> str:
    """An exception as one short line for a warning or an error (its message may span lines)."""
    return shorten(f"{type(exc).__name__}: {' '.join(str(exc).split())}", 300)


def content_hash(title: str, body: str) -> str:
    """What decides "edited": the text a reader sees (title and body), nothing else."""
    return hashlib.sha256(f"{title}\n\x1f\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class SourceTime:
    """A date as the source wrote it, and the moment it means (None: not a date we can read)."""

    raw: str
    moment: datetime | None


def _moment(build: Callable[[], datetime]) -> datetime | None:
    """An aware UTC datetime, or None when the value has no UTC equivalent (year 1 at +05:00)."""
    try:
        moment = build()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def from_struct(value: time.struct_time | None, raw: Any = None) -> SourceTime | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) with the text it came from."""
    text = raw if isinstance(raw, str) else ""
    if value is None:
        return SourceTime(text, None) if text.strip() else None
    moment = _moment(lambda: datetime.fromtimestamp(timegm(value), UTC))
    return SourceTime(text or time.strftime("%Y-%m-%dT%H:%M:%S", value), moment)


def read_time(value: Any) -> SourceTime | None:
    """Any date a source may write (ISO 8601, RFC 822, ...); None when it wrote none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):  # JSON gave a number, list, object...: a date we can't read
        return SourceTime(str(value)[:100], None)
    text = value.strip()
    try:
        iso = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        return SourceTime(text, _moment(lambda: iso))
    try:
        parsed = _parse_date(text)
    except Exception:  # feedparser's date parsers are many and old: a bad date is not a crash
        parsed = None
    return from_struct(parsed, text) if parsed is not None else SourceTime(text, None)


def parse_time(value: Any) -> str | None:
    """A date string -> UTC RFC 3339 (any year a datetime holds), else None; no window applied."""
    found = read_time(value)
    return rfc3339(found.moment) if found is not None and found.moment is not None else None


def _usable(when: SourceTime | None, fetched: datetime) -> tuple[str | None, str]:
    """``when`` as RFC 3339 if it is a plausible date for an item fetched at ``fetched``.

    Plausible: from :data:`EARLIEST` to :data:`MAX_AHEAD` after the fetch. Anything else
    (unreadable, year 1, 9999-12-31) gives None and why, quoting the source's value.
    """
    if when is None:
        return None, ""
    shown = repr(" ".join(when.raw.split())[:64])
    if when.moment is None:
        return None, f"{shown} is not a readable date"
    if when.moment < EARLIEST:
        return None, f"{shown} is before {EARLIEST:%Y-%m-%d}"
    if when.moment > fetched + MAX_AHEAD:
        return None, f"{shown} is more than a day after the fetch"
    return rfc3339(when.moment), ""


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


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters, ending in ``…``; True if it was cut.

    The cut falls on a line break or a space in the last fifth when there is one (CJK text
    has none), and never between a character and the marks or joiners that belong to it.
    """
    if len(text) <= limit:
        return text, False
    end = limit - 1  # room for the ellipsis
    floor = limit * 4 // 5
    boundary = max(text.rfind("\n", floor, end + 1), text.rfind(" ", floor, end + 1))
    if boundary > 0:
        end = boundary
    else:
        while end > 0 and (_joins(text[end]) or text[end - 1] == "\u200d"):
            end -= 1
    return text[:end].rstrip() + "…", True


def _joins(char: str) -> bool:
    """A combining mark, joiner, variation selector or skin tone: it belongs to its neighbour."""
    code = ord(char)
    return bool(
        unicodedata.combining(char)
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0100 <= code <= 0xE01EF
    )


def build_item(
    source: Source,
    *,
    local_id: str,
    url: str,
    title: str,
    body: str,
    published: SourceTime | None,
    fetched_at: str,
    updated: SourceTime | None = None,
    summary: str = "",
    authors: list[str] | None = None,
    language: str | None = None,
    tags: list[str] | None = None,
    liveblog: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A raw item without ``revision`` (the state decides that).

    An entry without its own id is known by its link, else by a hash of its text; a
    summary that only repeats the body and empty author names are left out. Dates
    outside the plausible window fall back (published -> updated -> fetch time) and are
    described in ``date_note``; long texts are cut (:data:`MAX_TITLE`, ...) and named in
    ``truncated``.
    """
    local_id = local_id or url or f"hash:{content_hash(title, body)}"
    if summary == body:
        summary = ""
    authors = [a for a in authors or () if a]
    fetched = parse_rfc3339(fetched_at)
    if updated is not None and published is not None and updated.raw == published.raw:
        updated = None  # feedparser maps a missing updated to published: one date, not two
    published_at, published_problem = _usable(published, fetched)
    updated_at, updated_problem = _usable(updated, fetched)
    truncated: list[str] = []
    title, cut = clip(title, MAX_TITLE)
    if cut:
        truncated.append("title")
    summary, cut = clip(summary, MAX_SUMMARY)
    if cut:
        truncated.append("summary")
    body, cut = clip(body, MAX_BODY)
    if cut:
        truncated.append("body")
    names = [clip(a, MAX_AUTHOR)[0] for a in (authors or [])[:MAX_AUTHORS]]
    if authors and (len(authors) > MAX_AUTHORS or names != authors[:MAX_AUTHORS]):
        truncated.append("authors")
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
    notes = []
    if published_problem:
        used = "the updated date" if updated_at else "the fetch time"
        notes.append(f"published date {published_problem}: published_at is {used}")
    if updated_problem:
        notes.append(f"updated date {updated_problem}: left out")
    if notes:
        item["date_note"] = "; ".join(notes)
    if summary:
        item["summary"] = summary
    if names:
        item["authors"] = names
    if language:
        item["language"] = language
    merged = list(dict.fromkeys([*source.tags, *(tags or [])]))
    if merged:
        item["tags"] = merged
    if liveblog:
        item["liveblog"] = liveblog
    if truncated:
        item["truncated"] = truncated
    return item


def one_per_id(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """One item per id, and one warning line when a document repeated ids.

    A feed listing a GUID twice usually carries two versions of one post: the one
    kept is the most recently updated (``updated_at``, else ``published_at``), then
    the longer body, then the first; it takes the place of the first occurrence.
    """
    chosen: dict[str, int] = {}
    repeats: list[str] = []
    for index, item in enumerate(items):
        best = chosen.get(item["id"])
        if best is None:
            chosen[item["id"]] = index
            continue
        repeats.append(item["id"])
        if _recency(item) > _recency(items[best]):
            chosen[item["id"]] = index  # the dict keeps the first occurrence's place
    if not repeats:
        return items, None
    kept = [items[i] for i in chosen.values()]
    example = repeats[0] if len(repeats[0]) <= 120 else repeats[0][:119] + "…"
    return kept, (
        f"{len(repeats)} entries repeat an id already in the document (first: {example!r}); "
        "kept the most recently updated version of each"
    )


def _recency(item: dict[str, Any]) -> tuple[str, int]:
    return (item.get("updated_at") or item["published_at"], len(item["body"]))
