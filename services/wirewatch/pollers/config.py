"""``sources.yaml``: which feeds and live blogs to poll, and how."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from wirewatch.core.config import Duration, HttpUrl, load_yaml, unique_ids
from wirewatch.core.validation import SecretValueError
from wirewatch.pollers.http import SourceFetch, redact_proxy

DEFAULT_INTERVAL = {
    "rss": timedelta(minutes=5),
    "atom": timedelta(minutes=5),  # never looked up: loaded as rss
    "liveblog": timedelta(seconds=60),
    "auto": timedelta(minutes=5),
}


class LiveblogSelectors(BaseModel):
    """CSS selectors for live-blog pages that carry no LiveBlogPosting JSON-LD."""

    model_config = ConfigDict(extra="forbid")

    block: str
    id_attr: str | None = None
    time: str | None = None
    title: str | None = None
    body: str | None = None


#: What ``kind:`` accepts. ``atom`` is another name for ``rss``: both mean "a feed", and
#: feedparser reads RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 alike (JSON Feed is read
#: too); a source written ``kind: atom`` is loaded as ``kind: rss``.
SourceKind = Literal["rss", "atom", "liveblog", "auto"]
_SOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")

#: RFC 9110 ``token``: what a header or cookie name may hold.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Headers a source may not set, and why (the fetcher or another key owns them).
RESERVED_HEADERS = {
    "host": "the fetcher sets it from the URL",
    "cookie": "use cookies: (values come from environment variables)",
    "user-agent": "use user_agent:",
    "accept-encoding": "the fetcher decodes gzip, deflate and br itself under the size cap",
    "if-none-match": "conditional GET sets it from the source's state",
    "if-modified-since": "conditional GET sets it from the source's state",
    "content-length": "a GET has no body",
    "transfer-encoding": "a GET has no body",
    "connection": "hop-by-hop: the connection pool owns it",
    "proxy-authorization": "put credentials in the proxy: URL",
}


def _header_value_problem(value: str) -> str | None:
    """Why httpx could not send ``value`` as a header value, or None.

    CR, LF or NUL would split or end the request; httpx encodes header values as ASCII, so
    any other character would fail every poll of the source instead of failing at load.
    """
    if any(c in value for c in "\r\n\0"):
        return "must not contain line breaks or NUL (a header value is one line)"
    odd = next((c for c in value if not c.isascii()), None)
    if odd is not None:
        return f"must be ASCII (an HTTP header cannot carry {odd!r}; percent-encode it)"
    return None


def _one_line_value(value: str) -> str:
    problem = _header_value_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class CookieFromEnv(BaseModel):
    """``{env: NAME}``: a cookie's value, read from an environment variable at load time.

    The value lives only in a private attribute: it is never in the model's dump,
    its repr, a log line, an error message or the web console.
    """

    model_config = ConfigDict(extra="forbid")

    env: str
    _value: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _not_the_value(cls, data: Any) -> Any:
        if not isinstance(data, dict):  # most likely the cookie's value pasted in: never echo it
            raise SecretValueError(
                "must be {env: VARIABLE}: a cookie's value comes from an environment variable, "
                "never from the file"
            )
        return data

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _read_env(self) -> CookieFromEnv:
        value = os.environ.get(self.env)
        if not value:
            raise ValueError(f"environment variable {self.env} is not set")
        if any(c in value for c in "\r\n\0;,") or not (value.isprintable() and value.isascii()):
            raise ValueError(
                f"environment variable {self.env} holds characters a cookie cannot carry "
                "(only printable ASCII without ';' or ',')"
            )
        self._value = value
        return self

    @property
    def value(self) -> str:
        return self._value


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=200)
    name: str | None = None
    kind: SourceKind = "auto"
    url: HttpUrl
    site_url: HttpUrl | None = None
    """The site's home page (OPML ``htmlUrl``): kept through import and export, never fetched."""
    interval: Duration | None = None
    tags: list[str] = Field(default_factory=list)
    liveblog: LiveblogSelectors | None = None
    full_text: Literal["auto", "always", "never"] = "auto"
    """Fetch each item's linked page for its article (``auto``: when the feed's text is a teaser)."""
    # Per-source fetch settings (README "Per-source fetch settings").
    user_agent: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: dict[str, CookieFromEnv] = Field(default_factory=dict)
    proxy: str | None = None
    min_host_delay: Duration | None = None
    timeout: Duration | None = None

    @field_validator("id")
    @classmethod
    def _id_characters(cls, value: str) -> str:
        if not _SOURCE_ID.fullmatch(value):
            raise ValueError("must start with a letter or digit and hold only letters, digits and . _ : -")
        return value

    @field_validator("kind")
    @classmethod
    def _atom_is_rss(cls, value: str) -> str:
        return "rss" if value == "atom" else value

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return None if value is None else _one_line_value(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            why = RESERVED_HEADERS.get(name.lower())
            if why is not None:
                raise ValueError(f"header {name!r} cannot be set here: {why}")
            problem = _header_value_problem(text)
            if problem is not None:
                raise ValueError(f"header {name!r}: value {problem}")
        return value

    @field_validator("cookies")
    @classmethod
    def _cookie_names(cls, value: dict[str, CookieFromEnv]) -> dict[str, CookieFromEnv]:
        for name in value:
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"cookie name {name!r} is not a valid cookie name")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise SecretValueError(f"must be an http:// or https:// proxy URL (got {redact_proxy(value)!r})")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SecretValueError(f"must be scheme://host:port only (got {redact_proxy(value)!r})")
        return value

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("must be more than 0s")
        return value

    @property
    def fetch_settings(self) -> SourceFetch:
        """What the fetcher needs of this source (cookie values included, never shown)."""
        return SourceFetch(
            user_agent=self.user_agent,
            headers=tuple(self.headers.items()),
            cookies=tuple((name, cookie.value) for name, cookie in self.cookies.items()),
            proxy=self.proxy,
            min_host_delay=None if self.min_host_delay is None else self.min_host_delay.total_seconds(),
            timeout=None if self.timeout is None else self.timeout.total_seconds(),
        )

    @property
    def poll_interval(self) -> timedelta:
        return self.interval if self.interval is not None else DEFAULT_INTERVAL[self.kind]

    @property
    def display_name(self) -> str:
        return self.name or self.id


class FetchSettings(BaseModel):
    """Optional ``fetch:`` section of sources.yaml: politeness and safety limits."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=20)
    total_timeout: Duration = timedelta(seconds=60)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="decompressed body cap")
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    min_host_delay: Duration = timedelta(seconds=1)
    concurrency: int = Field(default=32, ge=1, le=1024, description="sources fetched at once")


class SourcesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)
    fetch: FetchSettings = FetchSettings()

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, sources: list[Source]) -> list[Source]:
        return unique_ids(sources, "source")


def load_sources(path: Path | str) -> SourcesConfig:
    """Load and check ``sources.yaml``; errors name the file and field."""
    return load_yaml(path, SourcesConfig)
