"""Settings from ``WIREWATCH_*`` environment variables, and YAML config files.

Addresses and tunables come from the environment (12-factor, and what the
compose file sets); sources, rules and destinations are YAML files the user
edits. Both fail with :class:`ConfigError` naming the exact field.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from wirewatch.core.errors import ConfigError
from wirewatch.core.validation import annotation_at, explain, first_error, reason

ENV_PREFIX = "WIREWATCH_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"10m"``, ``"72h"``, ``"7d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 10m, 72h, 7d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"duration must not be negative: {value!r}")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def http_url(value: str) -> str:
    """``value`` when it is an http(s) URL: what feeds, home pages and webhooks must be."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(http_url)]


class Settings(BaseModel):
    """Process-wide settings, all read from ``WIREWATCH_<NAME>`` (any case); keyword
    arguments win over the environment.

    ``kafka_bootstrap`` and ``elasticsearch_url`` unset means the embedded
    default: in-process bus and SQLite FTS5 under ``data_dir``.

    A plain model reading ``os.environ`` rather than pydantic-settings: every value is one
    scalar, and importing pydantic-settings cost ~60 ms of every command's start.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap: str | None = Field(None, description="host:port[,host:port]")
    elasticsearch_url: str | None = Field(None, description="http://host:port")
    topic_prefix: str = Field("wirewatch", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(6, ge=1, le=1000)
    index_prefix: str = Field("wirewatch", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    data_dir: Path = Path(".wirewatch")
    metrics_port: int = Field(0, ge=0, le=65535, description="0: no /metrics endpoint")
    metrics_host: str = "127.0.0.1"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    user_agent: str = "Wirewatch/0.1 (+https://github.com/wirewatch/wirewatch; news monitoring)"
    #: longest wait between attempts to reach Kafka or Elasticsearch (core/reach.py); tests shorten it
    connect_retry_max: Duration = Field(timedelta(seconds=30), description="e.g. 30s")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        env = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in os.environ.items()
            if key.upper().startswith(ENV_PREFIX)
        }
        return {**env, **values}

    @property
    def raw_topic(self) -> str:
        return f"{self.topic_prefix}.raw"

    @property
    def processed_topic(self) -> str:
        return f"{self.topic_prefix}.processed"

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_prefix}.alerts"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.dead-letter"

    @property
    def poller_state_topic(self) -> str:
        return f"{self.topic_prefix}.poller-state"

    @property
    def dedupe_topic(self) -> str:
        """The processor's dedupe changelog (one partition: fingerprints are matched globally)."""
        return f"{self.topic_prefix}.processor-dedupe"

    @property
    def delivered_topic(self) -> str:
        """The notifier's compacted log of finished deliveries."""
        return f"{self.topic_prefix}.notifier-delivered"

    # Consumer groups. Deployments hold committed offsets under these exact names
    # (pollers with a dot, the others with a dash): renaming one replays or skips.

    @property
    def poller_group(self) -> str:
        return f"{self.topic_prefix}.pollers"

    @property
    def processor_group(self) -> str:
        """Also the Faust app id (its changelog topics are named from it)."""
        return f"{self.topic_prefix}-processor"

    @property
    def indexer_group(self) -> str:
        return f"{self.topic_prefix}-indexer"

    @property
    def notifier_group(self) -> str:
        return f"{self.topic_prefix}-notifier"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a bad value into one :class:`ConfigError` line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        why = reason(err, annotation_at(Settings, tuple(err["loc"])))
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}", why) from None


M = TypeVar("M", bound=BaseModel)

# libyaml's safe loader when PyYAML was built with it: rules files can be large.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Entry = TypeVar("Entry", bound=_HasId)


def unique_ids(entries: list[Entry], what: str) -> list[Entry]:
    """``entries`` unchanged, or ValueError naming the first repeated id (a config file's list)."""
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ValueError(f"duplicate {what} id {entry.id!r}")
        seen.add(entry.id)
    return entries


def load_yaml(path: Path | str, model: type[M]) -> M:
    """Parse a YAML config file into ``model``; any problem is one ConfigError line."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(where, f"invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"expected a mapping at the top, got {type(data).__name__}")
    return validate(model, data, str(path))


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    """``model`` from parsed ``data``, or one ConfigError in our words (:mod:`wirewatch.core.validation`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, why = explain(model, data, first_error(exc.errors()))
        raise ConfigError(f"{where}: {loc}" if loc else where, why) from None
