"""Webhook destinations (``destinations.yaml``), bodies and signatures.

File format::

    destinations:
      newsroom:                         # the name rules use in ``notify:``
        url: https://hooks.example.org/wirewatch
        format: json                    # json (body = the alert, schemas/alert.json) | slack
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
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wirewatch.core.config import Duration, load_yaml
from wirewatch.core.errors import ConfigError
from wirewatch.core.retry import Backoff, RateLimiter
from wirewatch.core.schedule import DigestConfig, MuteWindow, MuteWindows
from wirewatch.sinks import slack

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
            "h": 3600.0, "hour": 3600.0}


def parse_rate(value: str) -> tuple[int, float]:
    """``"30/min"`` -> ``(30, 60.0)``."""
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"not a rate limit: {value!r} (use e.g. 30/min, 5/s, 100/h)")
    return int(match.group(1)), _PERIODS[match.group(2)]


class DestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    format: Literal["json", "slack"] = "json"
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

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value


class DestinationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)


@dataclass
class Destination:
    """A destination ready to deliver to: secret resolved, limiter and back-off built."""

    name: str
    url: str
    format: Literal["json", "slack"] = "json"
    secret: bytes | None = None
    timeout: float = 5.0
    retries: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    limiter: RateLimiter | None = None
    concurrency: int = 4
    headers: dict[str, str] = field(default_factory=dict)
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
        limiter = RateLimiter(*parse_rate(config.rate_limit)) if config.rate_limit else None
        return cls(
            name=name, url=config.url, format=config.format, secret=secret,
            timeout=config.timeout.total_seconds(), retries=config.retries,
            backoff=Backoff(config.backoff.total_seconds(), config.max_backoff.total_seconds()),
            limiter=limiter, concurrency=config.concurrency, headers=dict(config.headers),
            digest=config.digest, mute=tuple(config.mute),
        )


def load_destinations(path: Path | str, environ: dict[str, str] | None = None) -> dict[str, Destination]:
    """Parse ``destinations.yaml``; a missing secret variable is a ConfigError naming it."""
    parsed = load_yaml(path, DestinationsFile)
    try:
        return {name: Destination.from_config(name, cfg, environ) for name, cfg in parsed.destinations.items()}
    except ConfigError as exc:  # name the file, as every other mistake in it does
        raise ConfigError(f"{path}: {exc.where}", exc.reason) from None


def render_body(alert: dict[str, Any], fmt: Literal["json", "slack"]) -> bytes:
    """The request body: the alert itself, or a Slack incoming-webhook message."""
    if fmt == "slack":
        return json.dumps(slack.message(alert), ensure_ascii=False, separators=(",", ":")).encode()
    return json.dumps(alert, ensure_ascii=False, separators=(",", ":")).encode()


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
