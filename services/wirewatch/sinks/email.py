"""Email destinations: an alert (or a digest) as a multipart mail, sent through an SMTP relay.

The mail is rendered once per delivery (:func:`alert_message`, bytes in RFC 5322 form
with CRLF line ends) and sent by :func:`send` as one SMTP transaction per attempt; the
notifier's retries, back-off, dead letters and delivery records are the webhook's own.

* ``Message-ID: <alert.<sha256(alert id)[:32]>@<From domain>>``: the same alert resent
  (a retry, a replayed dead letter, a restart) has the same Message-ID, so mail systems
  and readers that drop repeats see one message: email's idempotency key. An update's
  mail refers to its first alert (``In-Reply-To``/``References``) and threads under it.
* Subject ``[<rule>] <title>``: one line, cut to 200 characters; non-ASCII is RFC 2047
  encoded by the stdlib's ``email`` package, and a CR/LF in a feed's title cannot add a header.
* ``multipart/alternative``: text/plain first, then text/html where every feed value is
  HTML-escaped, title and summary carry ``dir="auto"`` (Arabic and Hebrew read right to
  left) and the one link is an ``http(s)`` URL built by :func:`links.web_link`.
* ``Auto-Submitted: auto-generated`` (RFC 3834): vacation responders do not answer.

Client: aiosmtplib (maintained, asyncio-native: STARTTLS, implicit TLS, AUTH, timeouts)
rather than stdlib smtplib in a thread: a notifier's workers are coroutines, and a thread per
stuck relay (up to ``timeout`` each, ``concurrency`` of them) would starve the default
executor other code shares.
"""

from __future__ import annotations

import hashlib
import html
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any

import aiosmtplib

from wirewatch.core.logging import get_logger
from wirewatch.sinks.links import count_items, cut, one_line, web_link

if TYPE_CHECKING:
    from wirewatch.sinks.destinations import Smtp

log = get_logger("sinks.email")

SUBJECT_MAX = 200
TITLE_MAX = 1000
SUMMARY_MAX = 10_000
ENTITIES_SHOWN = 10
#: 7-bit bodies: any relay takes them (no 8BITMIME or SMTPUTF8 needed); the text stays readable raw
CTE = "quoted-printable"


class SendError(Exception):
    """One failed SMTP attempt, worded for the log and the dead letter; ``permanent``: do not retry."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# ------------------------------------------------------------------ rendering


def message_id(key: str, sender: str) -> str:
    """``<alert.<32 hex>@<domain>>``: stable for one key (an alert id), valid whatever the key holds."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "wirewatch.localhost"
    return f"<alert.{digest}@{domain}>"


def _first_alert_id(alert: dict[str, Any]) -> str | None:
    """The id of the alert an update follows (``<rule>:<story>:r<revision>`` -> ``<rule>:<story>``)."""
    suffix = f":r{alert.get('revision')}"
    if alert.get("dedupe_status") == "update" and str(alert["id"]).endswith(suffix):
        return str(alert["id"])[: -len(suffix)]
    return None


def _envelope(smtp: Smtp, subject: str, key: str) -> EmailMessage:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(smtp.to)
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id(key, smtp.sender)
    mail["Auto-Submitted"] = "auto-generated"
    return mail


def _facts(alert: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("Rule", alert["rule"]), ("Source", alert["source"].get("name") or alert["source"]["id"]),
             ("Published", alert["published_at"])]
    if alert.get("dedupe_status") == "update":
        facts.append(("Update", f"revision {int(alert.get('revision', 1))}"))
    if alert.get("entities"):
        facts.append(("Entities", ", ".join(alert["entities"][:ENTITIES_SHOWN])))
    return [(name, cut(one_line(str(value)), 500)) for name, value in facts]


def alert_text(alert: dict[str, Any]) -> str:
    """The text/plain body: title, link, summary, facts, the alert id."""
    lines = [cut(one_line(alert["title"]), TITLE_MAX)]
    link = web_link(alert["url"])
    if link:
        lines.append(link)
    if alert.get("summary"):
        lines += ["", cut(alert["summary"].strip(), SUMMARY_MAX)]
    lines.append("")
    lines += [f"{name}: {value}" for name, value in _facts(alert)]
    lines += ["", f"-- Wirewatch alert {one_line(alert['id'])}"]
    return "\n".join(lines) + "\n"


def alert_html(alert: dict[str, Any]) -> str:
    """The text/html body: the same as the text, every feed value escaped."""
    title = html.escape(cut(one_line(alert["title"]), TITLE_MAX))
    link = web_link(alert["url"])
    heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
    parts = [f'<h2 dir="auto">{heading}</h2>']
    if alert.get("summary"):
        summary = html.escape(cut(alert["summary"].strip(), SUMMARY_MAX)).replace("\n", "<br>\n")
        parts.append(f'<p dir="auto">{summary}</p>')
    rows = "".join(f'<tr><th align="left">{html.escape(name)}</th><td dir="auto">{html.escape(value)}</td></tr>'
                   for name, value in _facts(alert))
    parts.append(f"<table>{rows}</table>")
    parts.append(f"<p><small>Wirewatch alert {html.escape(one_line(alert['id']))}</small></p>")
    return _page("\n".join(parts))


def _page(body: str) -> str:
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


def alert_message(alert: dict[str, Any], smtp: Smtp) -> bytes:
    """The whole mail for one alert, as sent (headers, text and HTML alternatives)."""
    subject = cut(one_line(f"[{alert['rule']}] {alert['title']}"), SUBJECT_MAX)
    mail = _envelope(smtp, subject, str(alert["id"]))
    first = _first_alert_id(alert)
    if first is not None:
        mail["In-Reply-To"] = mail["References"] = message_id(first, smtp.sender)
    mail.set_content(alert_text(alert), cte=CTE)
    mail.add_alternative(alert_html(alert), subtype="html", cte=CTE)
    return mail.as_bytes()


def digest_text(digest: dict[str, Any]) -> str:
    lines = [f"Wirewatch digest for {digest['destination']}: {digest['period_start']} to {digest['period_end']}", ""]
    for event in digest["events"]:
        outlets = ", ".join(one_line(o) for o in event.get("outlets", [])[:ENTITIES_SHOWN])
        lines.append(f"* {cut(one_line(event['title']), TITLE_MAX)} ({count_items(event['count'])}: {outlets})")
        link = web_link(event.get("url", ""))
        if link:
            lines.append(f"  {link}")
    if digest.get("more"):
        lines += ["", f"and {int(digest['more'])} more events"]
    return "\n".join(lines) + "\n"


def digest_html(digest: dict[str, Any]) -> str:
    items = []
    for event in digest["events"]:
        title = html.escape(cut(one_line(event["title"]), TITLE_MAX))
        link = web_link(event.get("url", ""))
        heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
        outlets = html.escape(", ".join(one_line(o) for o in event.get("outlets", [])[:ENTITIES_SHOWN]))
        items.append(f'<li dir="auto">{heading} <small>({count_items(event["count"])}: {outlets})</small></li>')
    more = f"<p>and {int(digest['more'])} more events</p>" if digest.get("more") else ""
    head = html.escape(f"{digest['period_start']} to {digest['period_end']}")
    return _page(f"<h2>Wirewatch digest: {head}</h2>\n<ul>{''.join(items)}</ul>{more}")


def digest_message(digest: dict[str, Any], smtp: Smtp) -> bytes:
    """The whole mail for one digest; its Message-ID comes from destination and period (sent once)."""
    key = f"digest:{digest['destination']}:{digest['period_start']}:{digest['period_end']}"
    subject = cut(one_line(f"[digest] {len(digest['events'])} events, {digest['period_start']} to "
                           f"{digest['period_end']}"), SUBJECT_MAX)
    mail = _envelope(smtp, subject, key)
    mail.set_content(digest_text(digest), cte=CTE)
    mail.add_alternative(digest_html(digest), subtype="html", cte=CTE)
    return mail.as_bytes()


def recipients(smtp: Smtp) -> list[str]:
    """The envelope recipients: the addr-specs of ``to``."""
    return [parseaddr(entry)[1] for entry in smtp.to]


def envelope_sender(smtp: Smtp) -> str:
    return Address(addr_spec=parseaddr(smtp.sender)[1]).addr_spec


# ------------------------------------------------------------------ sending


async def send(name: str, smtp: Smtp, body: bytes, timeout: float) -> None:
    """One SMTP transaction for ``body``; a failure is a :class:`SendError` with one clear line.

    Connection failures, timeouts, dropped connections and 4xx replies are retried;
    5xx replies (a refused recipient, failed AUTH) and TLS failures are permanent.
    The password goes to the relay only: never into a message or a log.
    """
    where = f"SMTP server {smtp.where} for destination {name!r}"
    try:
        refused, _ = await aiosmtplib.send(
            body, sender=envelope_sender(smtp), recipients=recipients(smtp),
            hostname=smtp.host, port=smtp.port, username=smtp.username, password=smtp.password,
            use_tls=smtp.tls == "tls", start_tls=smtp.tls == "starttls",
            tls_context=smtp.context, timeout=timeout,
        )
    except aiosmtplib.SMTPConnectTimeoutError:
        raise SendError(f"cannot reach {where}: timed out after {timeout:g}s") from None
    except aiosmtplib.SMTPConnectError as exc:
        why, permanent = _connect_reason(exc)
        raise SendError(f"cannot reach {where}: {why}", permanent=permanent) from None
    except aiosmtplib.SMTPTimeoutError:
        raise SendError(f"{where} timed out after {timeout:g}s") from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        listed = "; ".join(f"{r.recipient}: {r.code} {one_line(r.message)}" for r in exc.recipients)
        raise SendError(f"{where} refused every recipient ({listed})",
                        permanent=all(r.code >= 500 for r in exc.recipients)) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(f"{where} replied {exc.code} {one_line(exc.message)}", permanent=exc.code >= 500) from None
    except aiosmtplib.SMTPServerDisconnected as exc:
        raise SendError(f"{where} closed the connection: {one_line(str(exc))}") from None
    except aiosmtplib.SMTPException as exc:  # e.g. STARTTLS or AUTH not offered: the relay's setup
        raise SendError(f"{where}: {one_line(str(exc))}", permanent=True) from None
    except ssl.SSLError as exc:
        raise SendError(f"TLS with {where} failed: {one_line(exc.reason or str(exc))}", permanent=True) from None
    except OSError as exc:
        raise SendError(f"cannot reach {where}: {one_line(exc.strerror or str(exc))}") from None
    if refused:  # some recipients took it: delivered, and the refused ones named once
        log.warning("mail recipients refused", destination=name,
                    refused={rcpt: f"{reply.code} {one_line(reply.message)}" for rcpt, reply in sorted(refused.items())})


def _connect_reason(exc: BaseException) -> tuple[str, bool]:
    """``("connection refused", False)`` rather than aiosmtplib's ``Error connecting to ... [Errno 111]``;
    a TLS failure (an unverifiable certificate) is permanent: retrying will not fix it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused", False
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {one_line(cause.reason or str(cause))}", True
        if isinstance(cause, OSError) and cause.strerror and not isinstance(cause, aiosmtplib.SMTPException):
            return cause.strerror.lower(), False
        cause = cause.__cause__ or cause.__context__
    return one_line(str(exc)), False
