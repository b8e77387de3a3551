"""Slack messages built from hostile feed values: nothing a feed writes can ping people or break the link.

Slack reads ``&``, ``<`` and ``>`` as control characters in every text object
(``<@U123>`` mentions a user, ``<!channel>`` the whole channel, ``<url|text>`` is a
link). Every value from a feed is escaped, and the one link is built by us.
The bodies are checked as a real webhook receiver on loopback gets them from the notifier.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from aiohttp import web

from wirewatch.sinks.destinations import Destination
from wirewatch.sinks.slack import message as slack_message

from .helpers import channel_alert, running_notifier, strings, wait_for

#: the only ``<...>`` a message may hold: our link, an http(s) URL without ``|<>`` or spaces
OUR_LINK = re.compile(r"<(https?://[^|<>\s]+)\|([^<>]*)>")


def alert(n: int, **fields: Any) -> dict[str, Any]:
    return channel_alert(n, ["chat"], **fields)


HOSTILE = [
    alert(1, title="Quake <@U123ABC> & <!channel> <#C024BE7LR|general>",
          url="https://evil.example/a|<!channel>",
          summary="<!everyone> see <https://phish.example|your bank> & <@U999>",
          source={"id": "wire", "name": "<!here> Wire"},
          entities=["<@U2>", "A & B", "<!subteam^S1|@desk>"], tags=["<!channel>"]),
    alert(2, title="Link > text", url="https://evil.example/x> <!channel> <https://y.example"),
    alert(3, title="Spaces", url="https://news.example/a b\t<c>?q=1&r=<!here>#f|g"),
    alert(4, title="Script", url="javascript:alert('<!channel>')"),
    alert(5, title="Relative", url="/news/5|<!channel>"),
    alert(6, title="Data", url="data:text/html,<@U1>"),
    alert(7, title="Host", url="https://evil.example|<!channel>/x"),
    alert(8, rule="<!channel>", title="Rule id from config: escaped anyway"),
    alert(9, title="Update", dedupe_status="update", revision=2),
]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def deliver(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Slack bodies a loopback webhook receives for ``alerts``, by Idempotency-Key."""
    received: dict[str, dict[str, Any]] = {}

    async def handle(request: web.Request) -> web.Response:
        received[request.headers["Idempotency-Key"]] = json.loads(await request.read())
        return web.Response(status=200, text="ok")

    def chat(url: str) -> Destination:
        return Destination(name="chat", url=url, format="slack")

    async with running_notifier(alerts, "/slack", handle, chat) as (bus, _):
        await wait_for(lambda: asyncio.sleep(0, len(received) == len(alerts)), timeout=15)
    assert bus.messages("dead-letter") == []
    return received


@pytest.fixture(scope="module")
async def bodies() -> dict[str, dict[str, Any]]:
    return await deliver(HOSTILE)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.mark.parametrize("record", HOSTILE, ids=[a["id"] for a in HOSTILE])
def test_no_mention_and_no_angle_bracket_but_our_link(bodies: dict[str, dict[str, Any]], record: dict[str, Any]):
    body = bodies[record["id"]]
    for text in strings(body):
        assert "<@" not in text and "<!" not in text and "<#" not in text, text
        rest = OUR_LINK.sub("", text)
        assert "<" not in rest and ">" not in rest, text
    links = [m for text in strings(body) for m in OUR_LINK.finditer(text)]
    assert len(links) <= 1
    # "|" only where we put it (the link's separator) or where the feed wrote it as text
    shown_twice = record["title"] + record["source"].get("name", "") + record["rule"]  # in text and blocks
    from_feed = 2 * shown_twice.count("|") + record.get("summary", "").count("|") + sum(
        e.count("|") for e in record.get("entities", []))
    assert sum(text.count("|") for text in strings(body)) == len(links) + from_feed


def test_title_source_summary_and_entities_are_escaped_and_read_back_exactly(bodies: dict[str, dict[str, Any]]):
    body = bodies["desk-rule:wire:1"]
    first = body["blocks"][0]["text"]
    assert first == {
        "type": "mrkdwn", "verbatim": True,
        "text": "*<https://evil.example/a%7C%3C!channel%3E|"
                "Quake &lt;@U123ABC&gt; &amp; &lt;!channel&gt; &lt;#C024BE7LR|general&gt;>*",
    }
    assert body["text"] == ("[desk-rule] Quake &lt;@U123ABC&gt; &amp; &lt;!channel&gt; &lt;#C024BE7LR|general&gt;"
                            " (&lt;!here&gt; Wire)")
    assert unescape(body["blocks"][1]["text"]["text"]) == HOSTILE[0]["summary"]
    context = body["blocks"][-1]["elements"][0]
    assert context["verbatim"] is True
    assert context["text"] == ("rule *desk-rule* · &lt;!here&gt; Wire · 2026-11-27T10:00:00Z · "
                               "&lt;@U2&gt;, A &amp; B, &lt;!subteam^S1|@desk&gt;")


@pytest.mark.parametrize(
    ("n", "link"),
    [
        (2, "https://evil.example/x%3E%20%3C!channel%3E%20%3Chttps://y.example"),
        (3, "https://news.example/a%20b%3Cc%3E?q=1&amp;r=%3C!here%3E#f%7Cg"),  # the tab dropped, as browsers do
        (4, None),  # not http(s): the title is not linked at all
        (5, None),
        (6, None),
        (7, None),  # "|" in the host: no link
    ],
)
def test_links_are_percent_encoded_or_left_out(bodies: dict[str, dict[str, Any]], n: int, link: str | None):
    text = bodies[f"desk-rule:wire:{n}"]["blocks"][0]["text"]["text"]
    title = escape(HOSTILE[n - 1]["title"])
    assert text == (f"*{title}*" if link is None else f"*<{link}|{title}>*")


def test_rule_ids_are_escaped_too(bodies: dict[str, dict[str, Any]]):
    body = bodies["desk-rule:wire:8"]
    assert body["text"].startswith("[&lt;!channel&gt;] ")
    assert body["blocks"][-1]["elements"][0]["text"].startswith("rule *&lt;!channel&gt;* · ")


def test_update_and_ordinary_alerts_keep_their_layout(bodies: dict[str, dict[str, Any]]):
    body = bodies["desk-rule:wire:9"]
    assert body["blocks"][0]["text"]["text"] == "*<https://news.example/9|Update>*"
    assert body["blocks"][-1]["elements"][0]["text"] == (
        "rule *desk-rule* · Wire · 2026-11-27T10:00:00Z · update (revision 2)")


def test_huge_values_stay_inside_slacks_text_limits():
    big = alert(10, title="&" * 100_000, url="https://news.example/" + "|" * 10_000,
                summary="<" * 100_000, entities=["&" * 5000] * 20, source={"id": "wire", "name": ">" * 5000})
    message = slack_message(big)
    texts = [message["text"], *(b["text"]["text"] for b in message["blocks"] if "text" in b),
             *(e["text"] for b in message["blocks"] for e in b.get("elements", []))]
    assert all(len(t) <= 3000 for t in texts), [len(t) for t in texts]
    assert all(not re.search(r"&(?!amp;|lt;|gt;)", t) for t in texts)  # no entity cut in half
    assert "<" not in message["blocks"][0]["text"]["text"]  # a 10,000-character link is not linked


def test_titles_are_one_line_and_summaries_keep_their_paragraphs():
    message = slack_message(alert(11, title="Quake:\n\n *live*  updates", summary="First.\n\nSecond & last."))
    assert message["blocks"][0]["text"]["text"] == "*<https://news.example/11|Quake: *live* updates>*"
    assert message["text"] == "[desk-rule] Quake: *live* updates (Wire)"
    assert message["blocks"][1]["text"] == {"type": "plain_text", "text": "First.\n\nSecond &amp; last."}
