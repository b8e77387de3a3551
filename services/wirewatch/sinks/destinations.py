"""Destinations (``destinations.yaml``): webhooks and mail, their bodies and signatures.

File format::

    destinations:
      newsroom:                         # the name rules use in ``notify:``
        url: https://hooks.example.org/wirewatch
        format: json                    # json (body = the alert, schemas/alert.json) | slack | teams | discord
        secret_env: NEWSROOM_SECRET     # env var holding the HMAC secret; omit = unsigned
        timeout: 5s                     # per attempt
        rate_limit: 30/min              # N/s, N/min or N/h; omit = unlimited
        retries: 5                      # attempts after the first one, then dead letter
        backoff: 1s                     # first back-off; doubles, full jitter, capped by max_backoff
        max_backoff: 60s
        concurrency: 4                  # parallel deliveries to this destination
        headers: {X-Team: news}         # extra request headers
        digest: {every: 1h, max_items: 50}   # alerts grouped into one message a period (or cron:)
        mute: {cron: "0 22 * * *", for: 8h}  # held back in this window (or from/until; a list)
      desk-mail:                        # format email: no url, secret_env or headers
        format: email
        smtp: {host: smtp.example.org, port: 587, tls: starttls, username: wirewatch, password_env: SMTP_PASSWORD}
        from: "Wirewatch <alerts@example.org>"
        to: [desk@example.org]

Each format has one function for an alert and one for a digest (``_ALERT_MESSAGES``,
``_DIGEST_MESSAGES``; email's in :mod:`wirewatch.sinks.email`); a new format plugs in there.
Email goes over SMTP (:func:`wirewatch.sinks.email.send`) with the same retries, dead letters
and delivery records; its idempotency key is the Message-ID, derived from the alert id.

``digest`` and ``mute``: see :mod:`wirewatch.core.schedule` and :mod:`wirewatch.sinks.digest`.

Signature scheme (same idea as Stripe/Slack signing): every request carries

* ``Idempotency-Key: <alert id>`` (stable across retries and replays; percent-encoded
  where the id is not printable ASCII, see :func:`idempotency_key`),
* ``X-Wirewatch-Timestamp: <unix seconds>`` (fresh on each attempt),
* ``X-Wirewatch-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``
  where ``body`` is the exact request body bytes.

A receiver recomputes the HMAC over the raw body, compares it in constant
time, and rejects timestamps older than a few minutes (replay protection);
:func:`verify_signature` does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wirewatch.core.config import Duration, HttpUrl, load_yaml
from wirewatch.core.errors import ConfigError
from wirewatch.core.retry import Backoff, RateLimiter
from wirewatch.core.schedule import DigestConfig, MuteWindow, MuteWindows
from wirewatch.sinks import discord, slack, teams
from wirewatch.sinks import email as mail

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
            "h": 3600.0, "hour": 3600.0}


def parse_rate(value: str) -> tuple[int, float]:
    """``"30/min"`` -> ``(30, 60.0)``."""
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"not a rate limit: {value!r} (use e.g. 30/min, 5/s, 100/h)")
    return int(match.group(1)), _PERIODS[match.group(2)]


#: Body formats: ``json`` is the alert itself; the others are a channel's own message shape.
Format = Literal["json", "slack", "teams", "discord", "email"]


class SmtpConfig(BaseModel):
    """Where and how an ``email`` destination sends: an SMTP relay (submission port 587 by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)  # default: 587 starttls, 465 tls, 25 none
    tls: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None  # env var holding the password: never in the file, never logged
    ca_file: str | None = None  # PEM bundle to trust (an internal relay's own CA); default: the system's

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpConfig:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together (AUTH needs both)")
        return self


class DestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    url: HttpUrl | None = None  # every format but email
    format: Format = "json"
    smtp: SmtpConfig | None = None  # email only
    sender: str | None = Field(None, alias="from")  # email only: the From address
    to: list[str] | None = Field(None, min_length=1)  # email only: recipients
    secret_env: str | None = None
    timeout: Duration = timedelta(seconds=5)
    rate_limit: str | None = None
    retries: int = Field(5, ge=0, le=20)
    backoff: Duration = timedelta(seconds=1)
    max_backoff: Duration = timedelta(seconds=60)
    concurrency: int = Field(4, ge=1, le=64)
    headers: dict[str, str] = Field(default_factory=dict)
    digest: DigestConfig | None = None
    mute: MuteWindows = ()

    @field_validator("sender")
    @classmethod
    def _from_address(cls, value: str | None) -> str | None:
        if value is not None:
            mail_address(value)
        return value

    @field_validator("to")
    @classmethod
    def _to_addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or ():
            mail_address(address)
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @model_validator(mode="after")
    def _keys_of_format(self) -> DestinationConfig:
        """Email needs smtp/from/to and no url; a webhook format needs a url and none of those."""
        if self.format == "email":
            missing = [key for key, value in (("smtp", self.smtp), ("from", self.sender), ("to", self.to))
                       if value is None]
            if missing:
                raise ValueError(f"format email needs {', '.join(missing)} (and no url)")
            if self.url is not None:
                raise ValueError("format email sends through smtp: remove url")
            if self.secret_env is not None or self.headers:
                raise ValueError("format email has no secret_env or headers (its Message-ID is the "
                                 "idempotency key; sign mail with DKIM at the relay)")
        else:
            if self.url is None:
                raise ValueError(f"format {self.format} needs a url")
            extra = [key for key, value in (("smtp", self.smtp), ("from", self.sender), ("to", self.to))
                     if value is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for format email")
        return self


def mail_address(text: str) -> str:
    """The addr-spec of ``"Desk <desk@example.org>"`` or ``desk@example.org``; ValueError otherwise."""
    if "\r" in text or "\n" in text:
        raise ValueError(f"not an email address: {text!r}")
    _, address = parseaddr(text, strict=True)
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in address):
        raise ValueError(f"not an email address: {text!r} (use desk@example.org or \"Desk <desk@example.org>\")")
    return address


class DestinationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)


@dataclass(frozen=True)
class Smtp:
    """An email destination's relay, password resolved (kept out of reprs and logs)."""

    host: str
    port: int
    tls: Literal["starttls", "tls", "none"]
    sender: str  # the From header as written
    to: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)  # built at load: tls on

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


_SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass
class Destination:
    """A destination ready to deliver to: secret resolved, limiter and back-off built."""

    name: str
    url: str  # for email: smtp://host:port (shown, never requested)
    format: Format = "json"
    secret: bytes | None = field(default=None, repr=False)
    timeout: float = 5.0
    retries: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    limiter: RateLimiter | None = None
    concurrency: int = 4
    headers: dict[str, str] = field(default_factory=dict)
    smtp: Smtp | None = None  # set for format email: delivered over SMTP, not HTTP
    digest: DigestConfig | None = None
    mute: tuple[MuteWindow, ...] = ()

    @classmethod
    def from_config(cls, name: str, config: DestinationConfig, environ: dict[str, str] | None = None) -> Destination:
        env = os.environ if environ is None else environ
        secret = None
        if config.secret_env:
            value = env.get(config.secret_env)
            if not value:
                raise ConfigError(f"destinations.{name}.secret_env",
                                  f"environment variable {config.secret_env} is not set")
            secret = value.encode("utf-8")
        smtp = _smtp(name, config, env)
        limiter = RateLimiter(*parse_rate(config.rate_limit)) if config.rate_limit else None
        return cls(
            name=name, url=config.url or f"smtp://{smtp.where if smtp else ''}", format=config.format,
            secret=secret, timeout=config.timeout.total_seconds(), retries=config.retries,
            backoff=Backoff(config.backoff.total_seconds(), config.max_backoff.total_seconds()),
            limiter=limiter, concurrency=config.concurrency, headers=dict(config.headers), smtp=smtp,
            digest=config.digest, mute=tuple(config.mute),
        )


def _smtp(name: str, config: DestinationConfig, env: Mapping[str, str]) -> Smtp | None:
    if config.smtp is None or config.sender is None or config.to is None:
        return None
    relay = config.smtp
    password = None
    if relay.password_env:
        password = env.get(relay.password_env)
        if not password:
            raise ConfigError(f"destinations.{name}.smtp.password_env",
                              f"environment variable {relay.password_env} is not set")
    context = None
    if relay.tls != "none":  # verified TLS: the system's CAs, or ca_file's instead; read now, not at send
        try:
            context = ssl.create_default_context(cafile=relay.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"destinations.{name}.smtp.ca_file",
                              f"cannot read {relay.ca_file}: {exc.strerror or exc}") from None
    return Smtp(host=relay.host, port=relay.port or _SMTP_PORTS[relay.tls], tls=relay.tls,
                sender=config.sender, to=tuple(config.to), username=relay.username, password=password,
                ca_file=relay.ca_file, context=context)


def load_destinations(path: Path | str, environ: dict[str, str] | None = None) -> dict[str, Destination]:
    """Parse ``destinations.yaml``; a missing secret variable is a ConfigError naming it."""
    parsed = load_yaml(path, DestinationsFile)
    try:
        return {name: Destination.from_config(name, cfg, environ) for name, cfg in parsed.destinations.items()}
    except ConfigError as exc:  # name the file, as every other mistake in it does
        raise ConfigError(f"{path}: {exc.where}", exc.reason) from None


def render_body(alert: dict[str, Any], fmt: Format, destination: Destination | None = None) -> bytes:
    """The body of one delivery: the alert (json), a channel's message, or the whole mail (email).

    Email needs the ``destination`` (its From, To and Message-ID domain).
    """
    if fmt == "email":
        if destination is None or destination.smtp is None:
            raise ValueError("format email needs its destination's smtp settings")
        return mail.alert_message(alert, destination.smtp)
    return _json(_ALERT_MESSAGES[fmt](alert))


def render_digest(fmt: Format, digest: dict[str, Any], destination: Destination | None = None) -> bytes:
    """The body of one digest (``{destination, period_start, period_end, events, more}``), per format."""
    if fmt == "email":
        if destination is None or destination.smtp is None:
            raise ValueError("format email needs its destination's smtp settings")
        return mail.digest_message(digest, destination.smtp)
    return _json(_DIGEST_MESSAGES[fmt](digest))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _same(value: dict[str, Any]) -> dict[str, Any]:
    return value


#: One function per JSON format and per kind of message (alert, digest): a new format plugs in here.
_ALERT_MESSAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "json": _same, "slack": slack.message, "teams": teams.message, "discord": discord.message,
}
_DIGEST_MESSAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "json": _same, "slack": slack.digest_message, "teams": teams.digest_message, "discord": discord.digest_message,
}


def _hmac_hex(secret: bytes, stamp: bytes, body: bytes) -> str:
    return hmac.new(secret, stamp + b"." + body, hashlib.sha256).hexdigest()


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``f"{timestamp}.".encode() + body``)."""
    return f"sha256={_hmac_hex(secret, str(timestamp).encode(), body)}"


#: What the notifier sends, exactly: ASCII digits, and ``sha256=`` with 64 lower-case hex digits.
_TIMESTAMP = re.compile(rb"[0-9]{1,15}")
_SIGNATURE = re.compile(rb"sha256=[0-9a-f]{64}")


def _header_bytes(value: object) -> bytes | None:
    """A header value as ASCII bytes (from text or raw bytes), or None when it cannot be one."""
    if isinstance(value, str):
        return value.encode("ascii") if value.isascii() else None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return None


def verify_signature(
    secret: bytes | str, timestamp: object, body: bytes | bytearray | memoryview, header: object, *,
    tolerance: float = 300.0, now: float | None = None,
) -> bool:
    """What a receiver does: True only for the exact signature of ``timestamp`` and ``body``, fresh.

    ``timestamp`` and ``header`` are the ``X-Wirewatch-Timestamp`` and
    ``X-Wirewatch-Signature`` values as the request carried them (text or bytes; ``None``
    when missing). Any malformed input (missing, not text, non-ASCII, not digits, another
    length, not hex, a body that is not bytes) is False, never an exception, so a receiver
    can pass hostile requests straight in. The HMAC covers the timestamp as sent (``+17...``
    or Arabic-Indic digits are not the number the notifier signed), is compared in constant
    time, and a timestamp more than ``tolerance`` seconds from ``now`` is stale.
    """
    stamp, sent = _header_bytes(timestamp), _header_bytes(header)
    if stamp is None or sent is None or not _TIMESTAMP.fullmatch(stamp) or not _SIGNATURE.fullmatch(sent):
        return False
    key = secret.encode("utf-8") if isinstance(secret, str) else secret  # the env text the notifier encodes
    if not isinstance(key, bytes | bytearray) or not isinstance(body, bytes | bytearray | memoryview):
        return False
    age = (time.time() if now is None else now) - int(stamp)
    if not abs(age) <= tolerance:  # "not <=": a NaN tolerance or clock rejects too
        return False
    expected = _hmac_hex(bytes(key), stamp, bytes(body)).encode("ascii")
    return hmac.compare_digest(b"sha256=" + expected, sent)


#: What an Idempotency-Key keeps as it is: printable ASCII but "%" (the escape itself).
_KEY_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")


def idempotency_key(alert_id: str) -> str:
    """The alert id as a header value: percent-encoded (UTF-8) where it is not printable ASCII.

    Ids carry feed text (``<rule>:<source>:<entry id>``); a Chinese entry id made httpx
    raise UnicodeEncodeError and stop the notifier, a CR/LF would split the header. Plain
    ids are unchanged; ``unquote(key) == alert id`` for every id.
    """
    return quote(alert_id, safe=_KEY_SAFE)


def request_headers(destination: Destination, alert_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers for one attempt: idempotency key, timestamp, signature (when a secret is set)."""
    ts = int(time.time() if now is None else now)
    headers = {
        **destination.headers,
        "Content-Type": "application/json",
        "User-Agent": "Wirewatch-Notifier/0.1",
        "Idempotency-Key": idempotency_key(alert_id),
        "X-Wirewatch-Timestamp": str(ts),
    }
    if destination.secret is not None:
        headers["X-Wirewatch-Signature"] = signature(destination.secret, ts, body)
    return headers
