"""OPML subscription lists <-> ``sources.yaml`` (``wirewatch sources import|export``).

An outline's ``htmlUrl`` (the site's home page) becomes the source's ``site_url`` and is
written back on export.

Reading uses listparser's OPML handler (maintained, and it already knows what
feed readers write: ``text`` before ``title``, grouping outlines, the OPML 2.0
``category`` attribute, one entry per URL however many folders hold it). Its
``parse()`` is not called directly only because it drops the outline
attributes Wirewatch writes itself (``wirewatch:id``, which keeps ids through an
export/import round trip); the handler class is the same. Well-formedness is
checked first with expat: listparser's HTML-parser mode reads a truncated file
without complaint, and a half-imported list must not pass for a whole one.
"""

from __future__ import annotations

import re
import unicodedata
import xml.parsers.expat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import yaml
from listparser import opml as listparser_opml
from listparser import xml_handler

from wirewatch.core.errors import WirewatchError
from wirewatch.pollers.config import Source
from wirewatch.pollers.feeds import unsafe_xml_reason
from wirewatch.pollers.http import decode_text

#: Namespace of the attributes Wirewatch adds to the outlines it exports.
NAMESPACE = "urn:wirewatch:opml"
_ID_ATTR = "wirewatch:id"
_SOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_ID_CHARS = 60
"""Ids made from titles stop at a word boundary before this many characters."""


class OpmlError(WirewatchError):
    """The file is no usable OPML; one line for the user, exit 2."""


@dataclass
class Imported:
    """Sources read from an OPML file, and the outlines skipped (one line each)."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _Handler(listparser_opml.OpmlMixin, xml_handler.XMLHandler):
    """listparser's OPML handler, also keeping per feed URL its folders and ``wirewatch:id``.

    listparser lists a feed's ``category`` paths before its folder; folders come first in
    the tags (the order a reader shows them), so they are kept apart here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.sites: dict[str, str] = {}
        """Feed URL -> its outline's ``htmlUrl`` (the first one), which listparser drops."""
        self.folders: dict[str, list[list[str]]] = {}

    def start_opml_outline(self, attrs: dict[str, str]) -> None:
        folder = [name for name in self.hierarchy if name]
        super().start_opml_outline(attrs)
        url = attrs.get("xmlurl", "").strip()
        if not url:
            return
        self.folders.setdefault(url, []).append(folder)
        given = attrs.get(_ID_ATTR, "").strip()
        if given:
            self.ids.setdefault(url, given)
        site = attrs.get("htmlurl", "").strip()
        if site.startswith(("http://", "https://")):
            self.sites.setdefault(url, site)


def slug(text: str) -> str:
    """``"Le Monde.fr – Actualités"`` -> ``"le-monde-fr-actualites"``; ``""`` when no ASCII survives."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(words) > MAX_ID_CHARS:
        cut = words[:MAX_ID_CHARS]
        words = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return words


def _host_slug(url: str) -> str:
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return slug(host) or "feed"


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _check_well_formed(content: bytes) -> None:
    reason = unsafe_xml_reason(content)
    if reason:
        raise OpmlError(f"not a usable OPML file: {reason}")
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(content, True)
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.ErrorString(exc.code)
        raise OpmlError(
            f"broken OPML: not well-formed XML at line {exc.lineno}, column {exc.offset + 1} ({message})"
        ) from None


def _tags(categories: Iterable[list[str]]) -> list[str]:
    """Folder paths and ``category`` paths, flattened, first occurrence first."""
    tags: list[str] = []
    for path in categories:
        for name in path:
            if name and name not in tags:
                tags.append(name)
    return tags


def import_opml(content: bytes, name: str = "the file") -> Imported:
    """One source per outline with an ``xmlUrl`` (any depth); raises :class:`OpmlError`."""
    _check_well_formed(content)
    handler = _Handler()
    handler.harvest.update({"feeds": [], "lists": [], "opportunities": [], "meta": {}, "version": ""})
    handler.feed(decode_text(content, "application/xml").text)
    harvest = handler.harvest
    if not harvest["version"]:
        raise OpmlError(f"{name} is not an OPML file (no <opml> element)")
    result = Imported()
    taken: set[str] = set()
    for feed in harvest["feeds"]:
        url: str = feed["url"]
        title: str = feed["title"]
        if url.startswith("feed://"):
            url = "http://" + url.removeprefix("feed://")
        if not url.startswith(("http://", "https://")):
            result.skipped.append(f"skipped {title or url!r}: xmlUrl {url!r} is not an http(s) URL")
            continue
        given = handler.ids.get(feed["url"], "")
        base = given if _SOURCE_ID.fullmatch(given) else (slug(title) or _host_slug(url))
        source: dict[str, Any] = {"id": _unique(base, taken)}
        if title and title != source["id"]:  # an export's title is the id when the source had no name
            source["name"] = title
        source["kind"] = "rss"
        source["url"] = url
        if feed["url"] in handler.sites:
            source["site_url"] = handler.sites[feed["url"]]
        tags = _tags([*handler.folders.get(feed["url"], []), *feed.get("categories", [])])
        if tags:
            source["tags"] = tags
        result.sources.append(source)
    if not result.sources:
        raise OpmlError(f"{name} holds no feed (no outline with an http(s) xmlUrl)")
    return result


def sources_yaml(imported: Imported, origin: str) -> str:
    """The ``sources.yaml`` text (loads with :func:`wirewatch.pollers.config.load_sources`)."""
    header = f"# imported from {origin} by `wirewatch sources import`: {len(imported.sources)} sources\n"
    body = yaml.safe_dump(
        {"sources": imported.sources}, sort_keys=False, allow_unicode=True, width=1000
    )
    return header + body


def _carried(tag: str) -> bool:
    """A tag an OPML ``category`` path can hold (``/`` and ``,`` are its separators, unescapable)."""
    return "/" not in tag and "," not in tag


def lost_tags(source: Source) -> list[str]:
    """Tags an export cannot carry: after the first (the folder, whose name may hold anything)."""
    return [tag for tag in source.tags[1:] if not _carried(tag)]


def export_opml(sources: Iterable[Source], title: str = "Wirewatch sources") -> str:
    """OPML 2.0: one folder outline per first tag, every tag in ``category`` too.

    Feed readers (Miniflux, Feedly, Inoreader, NetNewsWire) show folders; the ``category``
    attribute keeps a source's other tags, in order, for a reader (and
    :func:`import_opml`) that reads it.
    """
    ElementTree.register_namespace("wirewatch", NAMESPACE)
    root = ElementTree.Element("opml", {"version": "2.0"})
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    body = ElementTree.SubElement(root, "body")
    folders: dict[str, ElementTree.Element] = {}
    for source in sources:
        parent = body
        if source.tags:
            first = source.tags[0]
            if first not in folders:
                folders[first] = ElementTree.SubElement(body, "outline", {"text": first, "title": first})
            parent = folders[first]
        attrs = {
            "type": "rss",
            "text": source.display_name,
            "title": source.display_name,
            "xmlUrl": source.url,
            **({"htmlUrl": source.site_url} if source.site_url else {}),
            f"{{{NAMESPACE}}}id": source.id,
        }
        categories = [f"/{tag}" for tag in source.tags if _carried(tag)]
        if categories:
            attrs["category"] = ",".join(categories)
        ElementTree.SubElement(parent, "outline", attrs)
    ElementTree.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
