"""Microsoft Teams messages: an Adaptive Card in the Workflows (Power Automate) webhook shape.

Teams' "Post to a channel when a webhook request is received" workflow takes::

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "contentUrl": null, "content": <AdaptiveCard>}]}

(Microsoft Learn, "Create incoming webhooks with Workflows for Microsoft Teams"; the
retired Office 365 connectors' MessageCard is not used). The card is version 1.4.

Feed text cannot format, link or mention: every feed value is a ``TextRun`` inside a
``RichTextBlock``, which Adaptive Cards render as plain text (TextBlock would read its
Markdown subset: ``[x](url)`` links, ``**bold**``, lists), and mentions exist only through
``msteams.entities``, which we never send. The one link (title and the "Open" button) is an
``http(s)`` URL built by :func:`links.web_link`. Values are cut so a message stays far
below Teams' 28 KB message limit whatever a feed writes (10k-character titles included).
"""

from __future__ import annotations

from typing import Any

from wirewatch.sinks.links import count_items, cut, one_line, web_link

CARD_VERSION = "1.4"
TITLE_MAX = 500
SUMMARY_MAX = 2000
VALUE_MAX = 200
ENTITIES_SHOWN = 10
DIGEST_EVENTS_SHOWN = 30  # 30 events x (500-char title + outlets) stays inside 28 KB


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _open(link: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "url": link}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": CARD_VERSION, "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card},
    ]}


def _title(text: str, link: str | None) -> dict[str, Any]:
    run = _run(cut(one_line(text), TITLE_MAX), weight="Bolder", size="Medium")
    if link:
        run["selectAction"] = _open(link)
    return {"type": "RichTextBlock", "inlines": [run]}


def message(alert: dict[str, Any]) -> dict[str, Any]:
    """The card for one alert: linked title, summary, a line of facts, an "Open" button."""
    link = web_link(alert["url"])
    body = [_title(alert["title"], link)]
    if alert.get("summary"):
        body.append({"type": "RichTextBlock", "inlines": [_run(cut(alert["summary"].strip(), SUMMARY_MAX))]})
    source = alert["source"].get("name") or alert["source"]["id"]
    facts = [_run("rule "), _run(cut(one_line(alert["rule"]), VALUE_MAX), weight="Bolder"),
             _run(f" · {cut(one_line(source), VALUE_MAX)} · {cut(one_line(alert['published_at']), VALUE_MAX)}")]
    if alert.get("dedupe_status") == "update":
        facts.append(_run(f" · update (revision {int(alert.get('revision', 1))})"))
    if alert.get("entities"):
        names = ", ".join(cut(one_line(e), VALUE_MAX) for e in alert["entities"][:ENTITIES_SHOWN])
        facts.append(_run(f" · {names}"))
    body.append({"type": "RichTextBlock", "inlines": [{**run, "isSubtle": True} for run in facts]})
    return _card(body, [{**_open(link), "title": "Open"}] if link else [])


def digest_message(digest: dict[str, Any]) -> dict[str, Any]:
    """The card for one digest: its period, then each event (linked title, count, outlets)."""
    head = f"Wirewatch digest: {one_line(str(digest['period_start']))} to {one_line(str(digest['period_end']))}"
    body: list[dict[str, Any]] = [{"type": "RichTextBlock", "inlines": [_run(head, weight="Bolder", size="Medium")]}]
    shown = digest["events"][:DIGEST_EVENTS_SHOWN]
    for event in shown:
        outlets = ", ".join(cut(one_line(o), VALUE_MAX) for o in event.get("outlets", [])[:ENTITIES_SHOWN])
        title = _title(event["title"], web_link(event.get("url", "")))
        title["inlines"][0].update(size="Default")
        title["inlines"].append(_run(f" ({count_items(event['count'])}: {outlets})", isSubtle=True))
        body.append(title)
    more = int(digest.get("more", 0)) + len(digest["events"]) - len(shown)
    if more:
        body.append({"type": "RichTextBlock", "inlines": [_run(f"and {more} more events", isSubtle=True)]})
    return _card(body, [])
