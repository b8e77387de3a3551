"""``sources.yaml``: which feeds and live blogs to poll, and how."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wirewatch.core.config import Duration, load_yaml, unique_ids

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


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=200)
    name: str | None = None
    kind: SourceKind = "auto"
    url: str
    interval: Duration | None = None
    tags: list[str] = Field(default_factory=list)
    liveblog: LiveblogSelectors | None = None
    full_text: Literal["auto", "always", "never"] = "auto"
    """Fetch each item's linked page for its article (``auto``: when the feed's text is a teaser)."""

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

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

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
