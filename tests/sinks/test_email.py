"""Email destinations, delivered by the notifier to a real SMTP server process (aiosmtpd) on loopback.

Each test starts ``tests/sinks/smtp_server.py`` as its own process (plain, STARTTLS with a
self-signed certificate made by ``openssl`` here, implicit TLS, AUTH) and checks what the
server received: envelope, headers, both bodies. An unreachable relay costs its retries and
a dead letter, and the other destination still gets its mail.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from wirewatch.bus.memory import MemoryBus
from wirewatch.core.errors import ConfigError
from wirewatch.sinks.destinations import Destination, load_destinations, render_digest
from wirewatch.sinks.notifier import DeliveredLog, Notifier

from .helpers import channel_alert, wait_for
from .mailbox import message_id, parsed, smtp_server

PASSWORD = "s3cret-Ünïcode-pass"  # what the relay accepts; must appear in no log or record


def alert(n: int, **fields: Any) -> dict[str, Any]:
    return channel_alert(n, ["desk-mail"], **fields)


CHINESE = alert(1, title="习近平抵达莫斯科 开始国事访问", url="https://news.example/zh/习近平?a=1&b=2",
                summary="新华社莫斯科12月4日电。\n第二段。", entities=["习近平", "莫斯科"])
ARABIC = alert(2, title="وصول الرئيس إلى موسكو في زيارة رسمية", summary="מקור: סוכנות הידיעות",
               source={"id": "wire", "name": "الجزيرة"}, dedupe_status="update", revision=2,
               id="desk-rule:wire:2:r2")
HOSTILE = alert(3, title='<script>alert("x")</script> & <b>bold</b>\r\nBcc: victim@example.org',
                url="javascript:alert(1)", summary="<img src=x onerror=alert(1)>")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (subjectAltName IP), made by the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def destinations(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> dict[str, Destination]:
    path = tmp_path / "destinations.yaml"
    path.write_text(text, "utf-8")
    return load_destinations(path, environ or {})


async def deliver(alerts: list[dict[str, Any]], targets: dict[str, Destination], done: int,
                  bus: MemoryBus | None = None) -> MemoryBus:
    """Run a notifier over ``alerts`` until ``done`` deliveries finished (any outcome); the bus after."""
    bus = bus or MemoryBus()
    for topic in ("alerts", "dead-letter", "delivered"):
        bus.create_topic(topic)
    start = len(bus.messages("delivered"))
    for record in alerts:
        await bus.publish("alerts", record, key=record["rule"])
    subscriber = bus.subscriber("alerts", f"notifier-{start}")
    await subscriber.start()
    notifier = Notifier(subscriber, targets, bus, DeliveredLog(bus, "delivered"), dead_letter_topic="dead-letter")
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        async def finished() -> bool:
            if task.done():
                task.result()
            return len(bus.messages("delivered")) - start >= done
        await wait_for(finished, timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await subscriber.stop()
    return bus


def outcomes(bus: MemoryBus) -> list[tuple[str, str, str, int]]:
    return sorted((m.value["destination"], m.value["alert_id"], m.value["outcome"], m.value["attempts"])
                  for m in bus.messages("delivered"))


def bodies(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, html = (p for p in parts if isinstance(p, EmailMessage))
    return (plain.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n"))


PLAIN = """\
destinations:
  desk-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: {port}, tls: none}}
    from: "Wirewatch <alerts@example.org>"
    to: ["Desk <desk@example.org>", night@example.org]
    retries: 0
"""

PAGE_HEAD = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
PAGE_TAIL = "\n</body></html>\n"


async def test_plain_smtp_mail_headers_and_both_bodies(tmp_path: Path) -> None:
    async with smtp_server(tmp_path, "plain") as server:
        targets = destinations(tmp_path, PLAIN.format(port=server.port))
        bus = await deliver([CHINESE, ARABIC, HOSTILE], targets, done=3)
        mails = server.mails()
    assert outcomes(bus) == [("desk-mail", a["id"], "delivered", 1) for a in (CHINESE, ARABIC, HOSTILE)]
    assert [m["mail_from"] for m in mails] == ["alerts@example.org"] * 3
    assert [m["rcpt_tos"] for m in mails] == [["desk@example.org", "night@example.org"]] * 3
    assert all(m["data"].isascii() for m in mails)  # 7-bit: any relay takes it, no SMTPUTF8 needed
    by_id = {parsed(m)["Message-ID"]: parsed(m) for m in mails}
    assert sorted(by_id) == sorted(message_id(a["id"]) for a in (CHINESE, ARABIC, HOSTILE))

    chinese = by_id[message_id(CHINESE["id"])]
    assert chinese["From"] == "Wirewatch <alerts@example.org>"
    assert chinese["To"] == "Desk <desk@example.org>, night@example.org"
    assert chinese["Subject"] == "[desk-rule] 习近平抵达莫斯科 开始国事访问"
    assert chinese["Auto-Submitted"] == "auto-generated"
    assert chinese["Date"].datetime is not None and chinese["In-Reply-To"] is None
    link = "https://news.example/zh/%E4%B9%A0%E8%BF%91%E5%B9%B3?a=1&b=2"
    assert bodies(chinese) == (
        f"习近平抵达莫斯科 开始国事访问\n{link}\n\n新华社莫斯科12月4日电。\n第二段。\n\n"
        "Rule: desk-rule\nSource: Wire\nPublished: 2026-11-27T10:00:00Z\nEntities: 习近平, 莫斯科\n\n"
        "-- Wirewatch alert desk-rule:wire:1\n",
        PAGE_HEAD + f'<h2 dir="auto"><a href="{link.replace("&", "&amp;")}">习近平抵达莫斯科 开始国事访问</a></h2>\n'
        '<p dir="auto">新华社莫斯科12月4日电。<br>\n第二段。</p>\n<table>'
        '<tr><th align="left">Rule</th><td dir="auto">desk-rule</td></tr>'
        '<tr><th align="left">Source</th><td dir="auto">Wire</td></tr>'
        '<tr><th align="left">Published</th><td dir="auto">2026-11-27T10:00:00Z</td></tr>'
        '<tr><th align="left">Entities</th><td dir="auto">习近平, 莫斯科</td></tr></table>\n'
        "<p><small>Wirewatch alert desk-rule:wire:1</small></p>" + PAGE_TAIL,
    )

    arabic = by_id[message_id(ARABIC["id"])]  # an update: threads under the story's first alert
    assert arabic["Subject"] == "[desk-rule] وصول الرئيس إلى موسكو في زيارة رسمية"
    assert arabic["In-Reply-To"] == arabic["References"] == message_id("desk-rule:wire:2")
    assert bodies(arabic) == (
        "وصول الرئيس إلى موسكو في زيارة رسمية\nhttps://news.example/2\n\nמקור: סוכנות הידיעות\n\n"
        "Rule: desk-rule\nSource: الجزيرة\nPublished: 2026-11-27T10:00:00Z\nUpdate: revision 2\n\n"
        "-- Wirewatch alert desk-rule:wire:2:r2\n",
        PAGE_HEAD + '<h2 dir="auto"><a href="https://news.example/2">وصول الرئيس إلى موسكو في زيارة رسمية</a></h2>\n'
        '<p dir="auto">מקור: סוכנות הידיעות</p>\n<table>'
        '<tr><th align="left">Rule</th><td dir="auto">desk-rule</td></tr>'
        '<tr><th align="left">Source</th><td dir="auto">الجزيرة</td></tr>'
        '<tr><th align="left">Published</th><td dir="auto">2026-11-27T10:00:00Z</td></tr>'
        '<tr><th align="left">Update</th><td dir="auto">revision 2</td></tr></table>\n'
        "<p><small>Wirewatch alert desk-rule:wire:2:r2</small></p>" + PAGE_TAIL,
    )

    hostile = by_id[message_id(HOSTILE["id"])]  # no header injected, no markup, no javascript: link
    assert hostile["Bcc"] is None
    # folded at 78 characters ("Subject:" CRLF SP ...): the stdlib parser keeps the fold's space
    assert hostile["Subject"].lstrip() == '[desk-rule] <script>alert("x")</script> & <b>bold</b> Bcc: victim@example.org'
    assert bodies(hostile) == (
        '<script>alert("x")</script> & <b>bold</b> Bcc: victim@example.org\n\n<img src=x onerror=alert(1)>\n\n'
        "Rule: desk-rule\nSource: Wire\nPublished: 2026-11-27T10:00:00Z\n\n-- Wirewatch alert desk-rule:wire:3\n",
        PAGE_HEAD + '<h2 dir="auto">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; '
        'Bcc: victim@example.org</h2>\n<p dir="auto">&lt;img src=x onerror=alert(1)&gt;</p>\n<table>'
        '<tr><th align="left">Rule</th><td dir="auto">desk-rule</td></tr>'
        '<tr><th align="left">Source</th><td dir="auto">Wire</td></tr>'
        '<tr><th align="left">Published</th><td dir="auto">2026-11-27T10:00:00Z</td></tr></table>\n'
        "<p><small>Wirewatch alert desk-rule:wire:3</small></p>" + PAGE_TAIL,
    )


async def test_the_same_alert_resent_has_the_same_message_id(tmp_path: Path) -> None:
    """A restart that lost its delivered record sends again: readers and relays see one Message-ID."""
    async with smtp_server(tmp_path, "resend") as server:
        targets = destinations(tmp_path, PLAIN.format(port=server.port))
        bus = await deliver([CHINESE], targets, done=1)
        await deliver([CHINESE], targets, done=1, bus=MemoryBus())  # a fresh delivered log: the alert again
        mails = server.mails()
    assert outcomes(bus) == [("desk-mail", CHINESE["id"], "delivered", 1)]
    assert [parsed(m)["Message-ID"] for m in mails] == [message_id(CHINESE["id"])] * 2


async def test_starttls_and_auth_with_a_self_signed_certificate(tmp_path: Path,
                                                                 certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = f"""\
destinations:
  desk-mail:
    format: email
    smtp:
      host: 127.0.0.1
      port: {{port}}
      tls: {{tls}}
      username: desk
      password_env: DESK_SMTP_PASSWORD
      ca_file: {cert}
    from: alerts@example.org
    to: [desk@example.org]
    retries: 0
"""
    for tls in ("starttls", "tls"):
        async with smtp_server(tmp_path, tls, "--tls", tls, "--cert", str(cert), "--key", str(key),
                               "--auth", f"desk:{PASSWORD}") as server:
            targets = destinations(tmp_path, config.format(port=server.port, tls=tls),
                                   {"DESK_SMTP_PASSWORD": PASSWORD})
            assert PASSWORD not in repr(targets)
            with capture_logs() as logs:
                bus = await deliver([CHINESE], targets, done=1)
            mails = server.mails()
        assert outcomes(bus) == [("desk-mail", CHINESE["id"], "delivered", 1)], (tls, [m.value["reason"] for m in bus.messages("dead-letter")])
        assert [(m["tls"], m["auth"], m["rcpt_tos"]) for m in mails] == [(True, "desk", ["desk@example.org"])]
        assert parsed(mails[0])["Subject"] == "[desk-rule] 习近平抵达莫斯科 开始国事访问"
        assert PASSWORD not in repr(logs)


async def test_a_wrong_password_is_refused_once_and_dead_lettered_without_the_password(
        tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    async with smtp_server(tmp_path, "auth", "--tls", "starttls", "--cert", str(cert), "--key", str(key),
                           "--auth", f"desk:{PASSWORD}") as server:
        targets = destinations(tmp_path, f"""\
destinations:
  desk-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: {server.port}, username: desk, password_env: PW, ca_file: {cert}}}
    from: alerts@example.org
    to: [desk@example.org]
    retries: 3
    backoff: 10ms
""", {"PW": "wrong-" + PASSWORD})
        with capture_logs() as logs:
            bus = await deliver([CHINESE], targets, done=1)
        assert server.mails() == []
    assert outcomes(bus) == [("desk-mail", CHINESE["id"], "dead-lettered", 1)]  # 535 is final: no retry
    (letter,) = [m.value for m in bus.messages("dead-letter")]
    assert letter["reason"] == ("delivery to desk-mail failed after 1 attempt(s): SMTP server 127.0.0.1:"
                                f"{server.port} for destination 'desk-mail' replied 535 5.7.8 "
                                "Authentication credentials invalid")
    assert PASSWORD not in repr(logs) + json.dumps([m.value for m in bus.messages("dead-letter")])


async def test_an_unreachable_smtp_server_retries_then_dead_letters_and_the_rest_goes_on(tmp_path: Path) -> None:
    async with smtp_server(tmp_path, "night") as server:
        targets = destinations(tmp_path, f"""\
destinations:
  desk-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: 1, tls: none}}
    from: alerts@example.org
    to: [desk@example.org]
    retries: 2
    backoff: 10ms
  night-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: {server.port}, tls: none}}
    from: alerts@example.org
    to: [night@example.org]
""")
        both = [alert(n, notify=["desk-mail", "night-mail"]) for n in (1, 2)]
        with capture_logs() as logs:
            bus = await deliver(both, targets, done=4)
        mails = server.mails()
    assert outcomes(bus) == [
        ("desk-mail", "desk-rule:wire:1", "dead-lettered", 3), ("desk-mail", "desk-rule:wire:2", "dead-lettered", 3),
        ("night-mail", "desk-rule:wire:1", "delivered", 1), ("night-mail", "desk-rule:wire:2", "delivered", 1),
    ]
    assert sorted(parsed(m)["Message-ID"] for m in mails) == sorted(message_id(a["id"]) for a in both)
    line = "cannot reach SMTP server 127.0.0.1:1 for destination 'desk-mail': connection refused"
    assert sorted(m.value["reason"] for m in bus.messages("dead-letter")) == [
        f"delivery to desk-mail failed after 3 attempt(s): {line}"] * 2
    retried = [entry for entry in logs if entry["event"] == "delivery failed; retrying"]
    assert [(e["destination"], e["error"]) for e in retried] == [("desk-mail", line)] * 4


@pytest.mark.parametrize(("text", "where", "reason"), [
    ("desk-mail: {format: email, from: a@example.org, to: [b@example.org]}",
     "destinations.desk-mail", "format email needs smtp (and no url)"),
    ("desk-mail: {format: email, url: 'https://x.example', smtp: {host: h}, from: a@example.org, to: [b@example.org]}",
     "destinations.desk-mail", "format email sends through smtp: remove url"),
    ("desk-mail: {format: email, smtp: {host: h}, from: a@example.org, to: [b@example.org], secret_env: S}",
     "destinations.desk-mail", "format email has no secret_env or headers (its Message-ID is the idempotency key; "
     "sign mail with DKIM at the relay)"),
    ("desk-mail: {format: email, smtp: {host: h}, from: 'not an address', to: [b@example.org]}",
     "destinations.desk-mail.from", "not an email address: 'not an address' "
     "(use desk@example.org or \"Desk <desk@example.org>\")"),
    ("desk-mail: {format: email, smtp: {host: h, tls: ssl}, from: a@example.org, to: [b@example.org]}",
     "destinations.desk-mail.smtp.tls", "must be one of starttls, tls, none (got 'ssl')"),
    ("desk-mail: {format: email, smtp: {host: h, username: desk}, from: a@example.org, to: [b@example.org]}",
     "destinations.desk-mail.smtp", "username and password_env go together (AUTH needs both)"),
    ("desk-mail: {format: email, smtp: {host: h, username: u, password_env: NEVER_SET_SMTP_PW}, "
     "from: a@example.org, to: [b@example.org]}",
     "destinations.desk-mail.smtp.password_env", "environment variable NEVER_SET_SMTP_PW is not set"),
    ("chat: {format: discord, smtp: {host: h}, url: 'https://discord.example/api/webhooks/1/x'}",
     "destinations.chat", "smtp: only for format email"),
    ("chat: {format: teams}", "destinations.chat", "format teams needs a url"),
])
def test_email_config_mistakes_are_one_line(tmp_path: Path, text: str, where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        destinations(tmp_path, "destinations:\n  " + text + "\n")
    assert (caught.value.where, caught.value.reason) == (f"{tmp_path / 'destinations.yaml'}: {where}", reason)


def test_a_digest_mail_lists_its_events_and_keeps_one_message_id_per_period(tmp_path: Path) -> None:
    (target,) = destinations(tmp_path, PLAIN.format(port=25)).values()
    digest = {
        "destination": "desk-mail", "period_start": "2026-12-04T07:00:00Z", "period_end": "2026-12-05T07:00:00Z",
        "events": [{"event_id": "e1", "title": "Xi arrives in Moscow", "url": "https://news.example/xi",
                    "count": 10, "outlets": ["Wire", "Daily"]},
                   {"event_id": "e2", "title": "<b>وصول</b>", "url": "javascript:1", "count": 1, "outlets": ["Wire"]}],
        "more": 3,
    }
    first, again = (parsed({"data": render_digest("email", digest, target).decode("latin-1")}) for _ in range(2))
    key = "digest:desk-mail:2026-12-04T07:00:00Z:2026-12-05T07:00:00Z"
    assert first["Message-ID"] == again["Message-ID"] == message_id(key)
    assert first["Subject"] == "[digest] 2 events, 2026-12-04T07:00:00Z to 2026-12-05T07:00:00Z"
    assert bodies(first) == (
        "Wirewatch digest for desk-mail: 2026-12-04T07:00:00Z to 2026-12-05T07:00:00Z\n\n"
        "* Xi arrives in Moscow (10 items: Wire, Daily)\n  https://news.example/xi\n"
        "* <b>وصول</b> (1 item: Wire)\n\nand 3 more events\n",
        PAGE_HEAD + "<h2>Wirewatch digest: 2026-12-04T07:00:00Z to 2026-12-05T07:00:00Z</h2>\n<ul>"
        '<li dir="auto"><a href="https://news.example/xi">Xi arrives in Moscow</a> <small>(10 items: Wire, Daily)'
        '</small></li><li dir="auto">&lt;b&gt;وصول&lt;/b&gt; <small>(1 item: Wire)</small></li></ul>'
        "<p>and 3 more events</p>" + PAGE_TAIL,
    )


async def test_a_refused_recipient_is_named_and_the_others_get_the_mail(tmp_path: Path) -> None:
    async with smtp_server(tmp_path, "refusing", "--refuse", "gone@example.org") as server:
        text = PLAIN.format(port=server.port).replace('["Desk <desk@example.org>", night@example.org]',
                                                      "[desk@example.org, gone@example.org]")
        text = text.replace("retries: 0", "retries: 3\n    backoff: 10ms")
        with capture_logs() as logs:
            some = await deliver([CHINESE], destinations(tmp_path, text), done=1)
        alone = await deliver([CHINESE], destinations(tmp_path, text.replace("desk@example.org, ", "")), done=1)
        mails = server.mails()
    assert outcomes(some) == [("desk-mail", CHINESE["id"], "delivered", 1)]
    assert [m["rcpt_tos"] for m in mails] == [["desk@example.org"]]
    assert [(e["destination"], e["refused"]) for e in logs if e["event"] == "mail recipients refused"] == [
        ("desk-mail", {"gone@example.org": "550 5.1.1 No such user here"})]
    assert outcomes(alone) == [("desk-mail", CHINESE["id"], "dead-lettered", 1)]  # 550 is final: no retry
    (letter,) = [m.value for m in alone.messages("dead-letter")]
    assert letter["reason"] == (
        f"delivery to desk-mail failed after 1 attempt(s): SMTP server 127.0.0.1:{server.port} for destination "
        "'desk-mail' refused every recipient (gone@example.org: 550 5.1.1 No such user here)")


def test_an_unreadable_ca_file_is_a_config_error_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        destinations(tmp_path, "destinations:\n  desk-mail: {format: email, smtp: {host: h, ca_file: /nonexistent/ca.pem}, "
                               "from: a@example.org, to: [b@example.org]}\n")
    assert (caught.value.where, caught.value.reason) == (
        f"{tmp_path / 'destinations.yaml'}: destinations.desk-mail.smtp.ca_file",
        "cannot read /nonexistent/ca.pem: No such file or directory")
