"""Slack incoming-webhook messages built from alerts, safe against what a feed writes.

Slack reads ``&``, ``<`` and ``>`` as control characters in every text object:
``<@U123>`` mentions a user, ``<!channel>`` the whole channel, ``<url|text>`` is a
link. A feed's title, URL, summary or source name could hold any of these, so:

* every value is escaped (``&amp;``, ``&lt;``, ``&gt;``: the three Slack decodes), rule
  ids and dates too, although they come from config and the processor;
* the one link is built here: only an ``http(s)`` URL with a clean host is linked, with
  ``|``, ``<``, ``>``, spaces, controls and non-ASCII percent-encoded (``&`` escaped), so
  nothing in it can end the link or start another sequence; any other URL is left out;
* ``mrkdwn`` text objects are ``verbatim`` (Slack does not turn bare ``@channel`` or
  channel names into mentions or links);
* values are cut to stay inside Slack's 3,000-character text limit (never inside an
  escape), since Slack refuses the whole message otherwise.
"""

from __future__ import annotations

from typing import Any

from wirewatch.sinks.links import count_items, web_link

#: Cuts, in escaped characters: a section or context text may hold at most 3,000.
TITLE_MAX = 500
URL_MAX = 2000  # a longer link is not linked: with the title it must fit in one section
SUMMARY_MAX = 2900
VALUE_MAX = 200  # rule id, source name, each entity in the context line
ENTITIES_SHOWN = 10

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str, limit: int | None = None, *, one_line: bool = True) -> str:
    """``text`` with Slack's three control characters escaped, cut to ``limit`` escaped characters.

    ``one_line`` makes whitespace runs one space (a newline would end the bold title).
    """
    if one_line:
        text = " ".join(text.split())
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is None or len(escaped) <= limit:
        return escaped
    out: list[str] = []
    size = 0
    for char in text:  # cut the text, not the escaped text: never half an escape
        piece = _ESCAPES.get(char, char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def safe_link(url: str) -> str | None:
    """The URL as it can sit inside ``<...|...>`` (:func:`links.web_link`, ``&`` escaped), or None."""
    link = web_link(url, limit=URL_MAX)
    if link is None:
        return None
    link = link.replace("&", "&amp;")
    return link if len(link) <= URL_MAX else None


def message(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack ``text`` (fallback, notifications) + ``blocks`` (rich layout)."""
    rule = escape(alert["rule"], VALUE_MAX)
    source = escape(alert["source"].get("name") or alert["source"]["id"], VALUE_MAX)
    title = escape(alert["title"], TITLE_MAX)
    link = safe_link(alert["url"])
    context = f"rule *{rule}* · {source} · {escape(alert['published_at'], VALUE_MAX)}"
    if alert.get("dedupe_status") == "update":
        context += f" · update (revision {int(alert.get('revision', 1))})"
    if alert.get("entities"):
        context += " · " + ", ".join(escape(e, VALUE_MAX) for e in alert["entities"][:ENTITIES_SHOWN])
    heading = f"*<{link}|{title}>*" if link else f"*{title}*"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(heading)}]
    if alert.get("summary"):
        blocks.append({"type": "section",
                       "text": {"type": "plain_text", "text": escape(alert["summary"], SUMMARY_MAX, one_line=False)}})
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    return {"text": f"[{rule}] {title} ({source})", "blocks": blocks}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


DIGEST_EVENTS_SHOWN = 40  # Slack takes at most 50 blocks a message


def digest_message(digest: dict[str, Any]) -> dict[str, Any]:
    """A digest: its period, then one section per event (linked title, count, outlets)."""
    period = f"{escape(str(digest['period_start']), VALUE_MAX)} to {escape(str(digest['period_end']), VALUE_MAX)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(f"*Wirewatch digest* · {period}")}]
    shown = digest["events"][:DIGEST_EVENTS_SHOWN]
    for event in shown:
        title = escape(event["title"], TITLE_MAX)
        link = safe_link(event.get("url", ""))
        outlets = ", ".join(escape(o, VALUE_MAX) for o in event.get("outlets", [])[:ENTITIES_SHOWN])
        heading = f"<{link}|{title}>" if link else title
        blocks.append({"type": "section", "text": _mrkdwn(f"{heading} · {count_items(event['count'])}: {outlets}")})
    more = int(digest.get("more", 0)) + len(digest["events"]) - len(shown)
    if more:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"and {more} more events")]})
    total = len(digest["events"]) + int(digest.get("more", 0))
    return {"text": f"Wirewatch digest: {total} events, {period}", "blocks": blocks}
