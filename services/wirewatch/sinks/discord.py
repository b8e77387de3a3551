"""Discord webhook messages (``POST /webhooks/{id}/{token}``): ``content`` plus one embed.

Discord's documented limits (developer docs, "Message resource: Embed limits" and
"Execute Webhook"): ``content`` 2,000 characters; per embed title 256, description
4,096, field name 256, field value 1,024, footer text 2,048, at most 25 fields, and
6,000 characters over all of an embed's texts. Over any of them Discord refuses the whole
message (HTTP 400, a permanent failure), so every value is cut here, counted in UTF-16
code units (never more than characters, so either counting fits).

A feed's text cannot ping or format anything:

* ``allowed_mentions: {"parse": []}``: no ``@everyone``, ``@here``, role or user mention
  in the message notifies anyone (Discord docs, "Allowed Mentions Object");
* Markdown and mention characters are backslash-escaped (``\\*``, ``\\[``, ``\\@``...), so
  ``**x**``, ``[click](https://phish)``, ``<@123>`` or ``# heading`` show as written;
* the one link is the embed ``url`` (an ``http(s)`` URL built by :func:`links.web_link`).
"""

from __future__ import annotations

import re
from typing import Any

from wirewatch.sinks.links import count_items, one_line, web_link

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25

CONTENT_SHOWN = 300  # the notification line: rule and title
VALUE_SHOWN = 200
ENTITIES_SHOWN = 10
COLOR = 0x2B6CB0

#: Characters Discord's Markdown reads (emphasis, code, spoilers, quotes, links, headings,
#: lists, mentions, emoji and auto-linked URLs): each is shown as written once escaped.
_SPECIAL = frozenset("\\*_~`|<>[]()#-:@.")
_NO_PINGS: dict[str, list[str]] = {"parse": []}


def _units(text: str) -> int:
    """Length in UTF-16 code units (an emoji counts 2): the stricter of the two ways to count."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str, limit: int, *, one_line_only: bool = True) -> str:
    """``text`` with Discord's Markdown characters escaped, cut to ``limit`` (never inside an escape)."""
    if one_line_only:
        text = one_line(text)
    escaped = "".join("\\" + char if char in _SPECIAL else char for char in text)
    return escaped if _units(escaped) <= limit else escape_cut(escaped, limit)


def _link(url: str) -> str | None:
    """The embed url; parentheses percent-encoded so it can also close a masked link safely."""
    link = web_link(url)
    return link.replace("(", "%28").replace(")", "%29") if link else None


def _field(name: str, value: str, limit: int = VALUE_SHOWN) -> dict[str, Any]:
    return {"name": name, "value": escape(value, min(limit, FIELD_VALUE_MAX)) or "\\-", "inline": True}


def embed_size(embed: dict[str, Any]) -> int:
    """The characters Discord counts against 6,000: title, description, fields, footer, author."""
    texts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", ""),
             embed.get("author", {}).get("name", "")]
    texts += [part for field in embed.get("fields", []) for part in (field["name"], field["value"])]
    return sum(_units(text) for text in texts)


def message(alert: dict[str, Any]) -> dict[str, Any]:
    """``content`` (the push notification line), one embed, and no mentions allowed."""
    source = alert["source"].get("name") or alert["source"]["id"]
    embed: dict[str, Any] = {"title": escape(alert["title"], TITLE_MAX), "color": COLOR,
                             "timestamp": alert["published_at"]}
    link = _link(alert["url"])
    if link:
        embed["url"] = link
    if alert.get("summary"):
        embed["description"] = escape(alert["summary"].strip(), DESCRIPTION_MAX, one_line_only=False)
    fields = [_field("Rule", alert["rule"]), _field("Source", source)]
    if alert.get("dedupe_status") == "update":
        fields.append(_field("Update", f"revision {int(alert.get('revision', 1))}"))
    if alert.get("entities"):
        fields.append(_field("Entities", ", ".join(one_line(e) for e in alert["entities"][:ENTITIES_SHOWN]), 500))
    embed["fields"] = fields[:FIELDS_MAX]
    embed["footer"] = {"text": escape(f"Wirewatch alert {alert['id']}", VALUE_SHOWN)}
    _fit(embed)
    content = escape(f"[{alert['rule']}] {alert['title']}", CONTENT_SHOWN)
    return {"content": content, "embeds": [embed], "allowed_mentions": _NO_PINGS}


def _fit(embed: dict[str, Any]) -> None:
    """Shorten the description until the embed's texts fit Discord's 6,000 in total."""
    over = embed_size(embed) - EMBED_TOTAL_MAX
    if over > 0 and "description" in embed:
        text = embed["description"]
        embed["description"] = escape_cut(text, _units(text) - over)


def escape_cut(escaped: str, limit: int) -> str:
    """An already escaped text cut to ``limit`` units, never between a backslash and its character."""
    pieces = re.findall(r"\\.|.", escaped, flags=re.DOTALL)
    out: list[str] = []
    size = 0
    for piece in pieces:
        if size + _units(piece) > limit - 1:
            break
        out.append(piece)
        size += _units(piece)
    return "".join(out) + "…"


def digest_message(digest: dict[str, Any]) -> dict[str, Any]:
    """One embed listing the digest's events as masked links, as many as fit in 4,096 characters."""
    period = f"{digest['period_start']} to {digest['period_end']}"
    lines: list[str] = []
    size = 0
    shown = 0
    for event in digest["events"]:
        outlets = ", ".join(one_line(o) for o in event.get("outlets", [])[:ENTITIES_SHOWN])
        title = escape(event["title"], 200)
        link = _link(event.get("url", ""))
        line = (f"• [{title}]({link})" if link else f"• {title}") + \
            f" ({count_items(event['count'])}: {escape(outlets, 300)})"
        if size + _units(line) + 1 > DESCRIPTION_MAX - 40:  # room for "and N more events"
            break
        lines.append(line)
        size += _units(line) + 1
        shown += 1
    more = int(digest.get("more", 0)) + len(digest["events"]) - shown
    if more:
        lines.append(f"and {more} more events")
    embed = {"title": escape(f"Wirewatch digest: {period}", TITLE_MAX), "description": "\n".join(lines),
             "color": COLOR, "timestamp": digest["period_end"]}
    return {"content": escape(f"Digest: {len(digest['events']) + int(digest.get('more', 0))} events, {period}",
                              CONTENT_SHOWN),
            "embeds": [embed], "allowed_mentions": _NO_PINGS}
