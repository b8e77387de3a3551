"""Teams and Discord messages match the shapes those services document, whatever a feed writes.

The JSON Schemas in ``tests/fixtures/sinks/`` are written from Discord's and Microsoft's docs
(limits cited in their descriptions); what JSON Schema cannot say (Discord's 6,000 characters
over an embed, Teams' 28 KB message) is checked here. Hostile titles: Markdown, ``@everyone``
and mentions, 10,000 characters, right-to-left text, astral emoji. The bodies are the ones
a loopback receiver gets from the notifier, signed and keyed as every webhook is.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from aiohttp import web
from jsonschema import Draft202012Validator

from wirewatch.sinks.destinations import Destination, render_body, render_digest, verify_signature

from .helpers import FIXTURES, channel_alert, running_notifier, strings, wait_for

DISCORD = Draft202012Validator(json.loads((FIXTURES / "discord_webhook.schema.json").read_text("utf-8")))
TEAMS = Draft202012Validator(json.loads((FIXTURES / "teams_workflow_message.schema.json").read_text("utf-8")))
TEAMS_MAX_BYTES = 28_000  # "28 KB", read as the smaller of 28,000 and 28,672 bytes
DISCORD_EMBED_TOTAL = 6000


def alert(n: int, **fields: Any) -> dict[str, Any]:
    return channel_alert(n, ["chat"], **fields)


PLAIN = alert(1, title="Quake hits coast", summary="A 6.1 quake.", entities=["Chile"])
HOSTILE = [
    alert(2, title="**bold** _it_ [click](https://phish.example) `code` ||spoiler|| ~~gone~~ > quote",
          summary="# Heading\n- list\n1. item\n[x](javascript:alert(1)) <https://phish.example>"),
    alert(3, title="@everyone @here <@123456789012345678> <@&42> <#1> <:emoji:1> look",
          source={"id": "wire", "name": "@everyone"}, entities=["@here", "<@1>"]),
    alert(4, title="T" * 10_000, summary="S" * 10_000, url="https://news.example/" + "p" * 3000),
    alert(5, title="وصول الرئيس إلى موسكو \u202egnp.exe\u202c", summary="מקור: סוכנות הידיעות",
          source={"id": "wire", "name": "الجزيرة"}),
    alert(6, title="🔥" * 300, summary="😀" * 5000, url="javascript:alert('@everyone')"),
    alert(7, title="Update\r\nwith a newline", dedupe_status="update", revision=3, id="desk-rule:wire:7:r3"),
    alert(8, title="\\*escaped\\* already \\", entities=[f"entity {i} " + "x" * 300 for i in range(30)]),
]

#: The characters Discord reads as Markdown or mentions; each must reach it escaped.
SPECIAL = "\\*_~`|<>[]()#-:@."
UNESCAPED = re.compile(r"(?<!\\)((?:\\\\)*)[" + re.escape(SPECIAL.replace("\\", "")) + "]")


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def embed_total(embed: dict[str, Any]) -> int:
    parts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    parts += [text for field in embed.get("fields", []) for text in (field["name"], field["value"])]
    return sum(utf16(p) for p in parts)


def body(record: dict[str, Any], fmt: str) -> dict[str, Any]:
    value = json.loads(render_body(record, fmt))  # type: ignore[arg-type]
    assert isinstance(value, dict)
    return value


# ------------------------------------------------------------------ Discord


def test_discord_message_of_a_plain_alert() -> None:
    assert body(PLAIN, "discord") == {
        "content": "\\[desk\\-rule\\] Quake hits coast",
        "embeds": [{
            "title": "Quake hits coast", "color": 0x2B6CB0, "timestamp": "2026-11-27T10:00:00Z",
            "url": "https://news.example/1", "description": "A 6\\.1 quake\\.",
            "fields": [{"name": "Rule", "value": "desk\\-rule", "inline": True},
                       {"name": "Source", "value": "Wire", "inline": True},
                       {"name": "Entities", "value": "Chile", "inline": True}],
            "footer": {"text": "Wirewatch alert desk\\-rule\\:wire\\:1"},
        }],
        "allowed_mentions": {"parse": []},
    }


@pytest.mark.parametrize("record", HOSTILE, ids=[a["id"] for a in HOSTILE])
def test_discord_hostile_alert_fits_the_documented_shape_and_pings_no_one(record: dict[str, Any]) -> None:
    message = body(record, "discord")
    errors = [f"{list(e.absolute_path)}: {e.message[:120]}" for e in DISCORD.iter_errors(message)]
    assert errors == []
    (embed,) = message["embeds"]
    assert embed_total(embed) <= DISCORD_EMBED_TOTAL
    assert utf16(embed["title"]) <= 256 and utf16(message["content"]) <= 2000
    assert message["allowed_mentions"] == {"parse": []}  # no @everyone, role or user ping
    texts = [message["content"], embed["title"], embed.get("description", ""), embed["footer"]["text"],
             *(f["value"] for f in embed["fields"])]
    for text in texts:  # every Markdown or mention character is escaped: shown as written
        assert not UNESCAPED.search(text.removesuffix("…")), text[:200]
    title = " ".join(record["title"].split())
    shown = unescape(embed["title"])
    assert shown == title or (shown.endswith("…") and title.startswith(shown[:-1]))
    if "url" in embed:
        assert embed["url"].startswith("https://news.example/")
    else:
        assert not record["url"].startswith("https://news.example/") or len(record["url"]) > 2000


def test_discord_cuts_count_utf16_units_and_never_split_an_escape() -> None:
    emoji = body(HOSTILE[4], "discord")["embeds"][0]
    assert emoji["title"] == "🔥" * 127 + "…"  # 127 x 2 units + 1 = 255 <= 256
    assert utf16(emoji["description"]) <= 4096
    long = body(HOSTILE[2], "discord")["embeds"][0]
    assert (long["title"], len(long["description"])) == ("T" * 255 + "…", 4096)
    escaped = body(alert(9, title="." * 300), "discord")["embeds"][0]["title"]
    assert escaped == "\\." * 127 + "…"  # 254 + 1: never a lone backslash before the ellipsis


# ------------------------------------------------------------------ Teams


def test_teams_card_of_a_plain_alert() -> None:
    run = {"type": "TextRun", "isSubtle": True}
    assert body(PLAIN, "teams") == {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": {"width": "Full"},
            "body": [
                {"type": "RichTextBlock", "inlines": [{
                    "type": "TextRun", "text": "Quake hits coast", "weight": "Bolder", "size": "Medium",
                    "selectAction": {"type": "Action.OpenUrl", "url": "https://news.example/1"}}]},
                {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "A 6.1 quake."}]},
                {"type": "RichTextBlock", "inlines": [
                    {**run, "text": "rule "}, {**run, "text": "desk-rule", "weight": "Bolder"},
                    {**run, "text": " · Wire · 2026-11-27T10:00:00Z"}, {**run, "text": " · Chile"}]},
            ],
            "actions": [{"type": "Action.OpenUrl", "url": "https://news.example/1", "title": "Open"}],
        },
    }]}


@pytest.mark.parametrize("record", HOSTILE, ids=[a["id"] for a in HOSTILE])
def test_teams_hostile_alert_fits_the_documented_shape_as_plain_text(record: dict[str, Any]) -> None:
    raw = render_body(record, "teams")
    assert len(raw) <= TEAMS_MAX_BYTES
    message = json.loads(raw)
    errors = [f"{list(e.absolute_path)}: {e.message[:120]}" for e in TEAMS.iter_errors(message)]
    assert errors == []
    card = message["attachments"][0]["content"]
    # feed text only in TextRuns (no Markdown), no mention entities, links only to the item
    assert {element["type"] for element in card["body"]} == {"RichTextBlock"}
    assert "entities" not in json.dumps(card["msteams"])
    title = " ".join(record["title"].split())
    shown = card["body"][0]["inlines"][0]["text"]
    assert shown == title or (len(shown) == 500 and title.startswith(shown[:-1]))
    links = {s for s in strings(card) if s.startswith(("http://", "https://", "javascript:"))}
    assert links <= {"http://adaptivecards.io/schemas/adaptive-card.json", *(
        [record["url"]] if record["url"].startswith("https://news.example/") and len(record["url"]) < 2000 else [])}


# ------------------------------------------------------------------ digests


def digest(events: int, more: int = 0) -> dict[str, Any]:
    hostile = [h["title"] for h in HOSTILE]
    return {
        "destination": "chat", "period_start": "2026-12-04T07:00:00Z", "period_end": "2026-12-05T07:00:00Z",
        "events": [{"event_id": f"ev{i}", "title": hostile[i % len(hostile)], "url": f"https://news.example/e{i}",
                    "count": i + 1, "outlets": ["Wire", "@everyone", "الجزيرة"]} for i in range(events)],
        "more": more,
    }


@pytest.mark.parametrize(("events", "more"), [(1, 0), (3, 2), (200, 50)])
def test_digests_fit_the_documented_shapes(events: int, more: int) -> None:
    discord = json.loads(render_digest("discord", digest(events, more)))
    assert [e.message[:120] for e in DISCORD.iter_errors(discord)] == []
    (embed,) = discord["embeds"]
    assert embed_total(embed) <= DISCORD_EMBED_TOTAL and discord["allowed_mentions"] == {"parse": []}
    listed = embed["description"].count("\n• ") + embed["description"].startswith("• ")
    missing = events + more - listed
    assert embed["description"].endswith(f"and {missing} more events") if missing else listed == events
    raw = render_digest("teams", digest(events, more))
    assert len(raw) <= TEAMS_MAX_BYTES
    teams = json.loads(raw)
    assert [e.message[:120] for e in TEAMS.iter_errors(teams)] == []
    card_body = teams["attachments"][0]["content"]["body"]
    shown = min(events, 30)
    assert len(card_body) == 1 + shown + (1 if events + more > shown else 0)
    assert card_body[1]["inlines"][1]["text"] == " (1 item: Wire, @everyone, الجزيرة)"


def test_a_three_event_digest_in_discord_reads_as_a_list_of_links() -> None:
    three = digest(3)
    three["events"] = [{"event_id": "e1", "title": "Xi arrives in Moscow", "url": "https://news.example/a(b)",
                        "count": 10, "outlets": ["Wire", "Daily"]},
                       {"event_id": "e2", "title": "[x](https://phish.example)", "url": "javascript:1",
                        "count": 1, "outlets": ["Wire"]}]
    assert json.loads(render_digest("discord", three))["embeds"][0]["description"] == (
        "• [Xi arrives in Moscow](https://news.example/a%28b%29) (10 items: Wire, Daily)\n"
        "• \\[x\\]\\(https\\://phish\\.example\\) (1 item: Wire)"
    )


# ------------------------------------------------------------------ through the notifier


@pytest.mark.parametrize("fmt", ["teams", "discord"])
async def test_the_notifier_signs_keys_and_retries_teams_and_discord_as_any_webhook(fmt: str) -> None:
    received: list[tuple[str, bytes, dict[str, str]]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((request.headers["Idempotency-Key"], await request.read(), dict(request.headers)))
        if len(received) == 1:
            return web.Response(status=503)  # the first try fails: retried with the same key
        return web.Response(status=204 if fmt == "discord" else 202)

    def chat(url: str) -> Destination:
        return Destination(name="chat", url=url, format=fmt, secret=b"k3y", retries=2)  # type: ignore[arg-type]

    record = HOSTILE[1]
    async with running_notifier([record], "/hook", handle, chat) as (bus, _):
        await wait_for(lambda: asyncio.sleep(0, len(received) == 2), timeout=15)
    assert bus.messages("dead-letter") == []
    assert [key for key, _, _ in received] == [record["id"]] * 2
    for _, raw, headers in received:
        assert raw == render_body(record, fmt)  # type: ignore[arg-type]
        assert verify_signature(b"k3y", headers["X-Wirewatch-Timestamp"], raw, headers["X-Wirewatch-Signature"])
    schema = DISCORD if fmt == "discord" else TEAMS
    assert list(schema.iter_errors(json.loads(received[-1][1]))) == []


def test_slack_digest_escapes_every_title_and_stays_within_50_blocks() -> None:
    message = json.loads(render_digest("slack", digest(200, 50)))
    assert len(message["blocks"]) == 1 + 40 + 1
    assert message["blocks"][-1]["elements"][0]["text"] == "and 210 more events"
    assert message["text"] == "Wirewatch digest: 250 events, 2026-12-04T07:00:00Z to 2026-12-05T07:00:00Z"
    for block in message["blocks"][1:-1]:
        text = block["text"]["text"]
        assert block["text"]["verbatim"] is True and len(text) <= 3000
        assert "<@" not in text and "<!" not in text and "<#" not in text
    assert message["blocks"][2]["text"]["text"] == (
        "<https://news.example/e1|@everyone @here &lt;@123456789012345678&gt; &lt;@&amp;42&gt; &lt;#1&gt; "
        "&lt;:emoji:1&gt; look> · 2 items: Wire, @everyone, الجزيرة")
