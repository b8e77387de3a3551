"""When digests go out and when alerts are muted: ``digest:`` and ``mute:`` of rules and destinations.

Written the same way in ``rules.yaml`` (per rule) and ``destinations.yaml`` (per destination)::

    digest: {every: 1h, max_items: 50}            # or {cron: "0 7 * * *", tz: Europe/Paris}
    mute:                                         # one window or a list of them
      - {from: "2026-12-24T18:00:00Z", until: "2026-12-26T06:00:00Z"}
      - {cron: "0 22 * * *", for: 8h, tz: Europe/Paris}   # every night 22:00-06:00

* ``every``: periods are aligned to multiples of the duration since 1970-01-01 UTC (``1h``
  ends on each full hour, ``1d`` at 00:00 UTC); for local wall-clock times use ``cron``.
* ``cron``: five fields, read by cronsim in ``tz`` (an IANA name; default ``UTC``); DST is
  handled as Debian cron does. A cron that can never fire (``0 7 31 2 *``) or a field out of
  range (``61 * * * *``) is refused when the file is read, naming the rule or destination.
* ``from``/``until``: ISO 8601; a time without an offset is read in ``tz`` (default UTC).
* A recurring mute starts at each cron time and lasts ``for``.

cronsim (not croniter): it validates impossible dates when the expression is parsed (croniter
only fails when iterating, after searching 50 years), iterates backwards for the period
start, is pure Python without dependencies, and is maintained (Healthchecks.io runs on it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from wirewatch.core.config import Duration

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``ValueError`` naming it when unknown)."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris, or UTC)") from None


def check_cron(expr: str) -> str:
    """``expr`` when cronsim accepts it and it can fire; else ``ValueError`` saying why."""
    try:
        CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValueError(f"not a possible cron schedule: {expr!r} ({exc})") from None
    return expr


def check_zone(name: str) -> str:
    """``name`` when it is a known time zone (see :func:`zone`)."""
    zone(name)
    return name


#: a cron expression checked when the file is read (digests and mutes alike)
CronText = Annotated[str, AfterValidator(check_cron)]
#: an IANA time zone name, or UTC
ZoneName = Annotated[str, AfterValidator(check_zone)]


class Schedule(Protocol):
    """Fire times: ``next_after`` is strictly after ``t``, ``last_at_or_before`` at or before it."""

    def next_after(self, t: datetime) -> datetime: ...

    def last_at_or_before(self, t: datetime) -> datetime: ...


class Every:
    """Every ``seconds``, aligned to the Unix epoch (so periods are the same after a restart)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def last_at_or_before(self, t: datetime) -> datetime:
        elapsed = (t - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=math.floor(elapsed / self.seconds) * self.seconds)

    def next_after(self, t: datetime) -> datetime:
        return self.last_at_or_before(t) + timedelta(seconds=self.seconds)


class Cron:
    """A five-field cron expression in a time zone (cronsim)."""

    def __init__(self, expr: str, tz: tzinfo = UTC) -> None:
        self.expr = check_cron(expr)
        self.tz = tz

    def next_after(self, t: datetime) -> datetime:
        return next(CronSim(self.expr, t.astimezone(self.tz))).astimezone(UTC)

    def last_at_or_before(self, t: datetime) -> datetime:
        local = t.astimezone(self.tz)
        found: datetime = next(CronSim(self.expr, local + timedelta(seconds=1), reverse=True))
        if found > local:  # t had a fraction of a second left before this fire time
            found = next(CronSim(self.expr, found, reverse=True))
        return found.astimezone(UTC)


def period(schedule: Schedule, t: datetime) -> tuple[datetime, datetime]:
    """The digest period holding ``t``: (last fire time at or before ``t``, next one after it)."""
    return schedule.last_at_or_before(t), schedule.next_after(t)


def _single_or_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class DigestConfig(BaseModel):
    """``digest:`` of a rule or destination: alerts are grouped and sent at these times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: Duration | None = None
    cron: CronText | None = None
    tz: ZoneName = "UTC"
    max_items: int = Field(50, ge=1, le=1000, description="events listed; the rest is 'and N more'")

    @model_validator(mode="after")
    def _one_schedule(self) -> DigestConfig:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of every (e.g. 1h) or cron (e.g. \"0 7 * * *\")")
        if self.every is not None and self.every.total_seconds() < 1:
            raise ValueError("every must be at least 1s")
        return self

    def schedule(self) -> Schedule:
        if self.cron is not None:
            return Cron(self.cron, zone(self.tz))
        assert self.every is not None
        return Every(self.every.total_seconds())

    def as_alert(self) -> dict[str, Any]:
        """What an alert carries of its rule's digest (``schemas/alert.json`` ``digest``)."""
        spec: dict[str, Any] = {"max_items": self.max_items}
        if self.cron is not None:
            spec.update(cron=self.cron, tz=self.tz)
        else:
            assert self.every is not None
            spec["every_seconds"] = self.every.total_seconds()
        return spec

    @classmethod
    def from_alert(cls, spec: dict[str, Any]) -> DigestConfig:
        """The digest an alert carries (see :meth:`as_alert`)."""
        if "cron" in spec:
            return cls(cron=spec["cron"], tz=spec.get("tz", "UTC"), max_items=spec.get("max_items", 50))
        return cls(every=timedelta(seconds=spec["every_seconds"]), max_items=spec.get("max_items", 50))


class MuteWindow(BaseModel):
    """One mute window: a fixed range (``from``/``until``) or recurring (``cron`` + ``for``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: datetime | None = Field(None, alias="from")
    until: datetime | None = None
    cron: CronText | None = None
    length: Duration | None = Field(None, alias="for")
    tz: ZoneName = "UTC"

    @model_validator(mode="after")
    def _one_form(self) -> MuteWindow:
        ranged = self.start is not None or self.until is not None
        recurring = self.cron is not None or self.length is not None
        if ranged == recurring:
            raise ValueError("give either from and until (ISO times) or cron and for (e.g. cron: \"0 22 * * *\", "
                             "for: 8h)")
        if ranged and (self.start is None or self.until is None):
            raise ValueError("a mute range needs both from and until")
        if recurring and (self.cron is None or self.length is None):
            raise ValueError("a recurring mute needs both cron and for")
        if ranged and self._aware(self.until) <= self._aware(self.start):
            raise ValueError("until must be later than from")
        if self.length is not None and self.length.total_seconds() <= 0:
            raise ValueError("for must be longer than 0s")
        return self

    def _aware(self, t: datetime | None) -> datetime:
        assert t is not None
        return t.replace(tzinfo=zone(self.tz)) if t.tzinfo is None else t

    def muted_until(self, t: datetime) -> datetime | None:
        """When the window holding ``t`` ends, or None when ``t`` is outside it."""
        if self.cron is not None:
            assert self.length is not None
            began = Cron(self.cron, zone(self.tz)).last_at_or_before(t)
            end = began + self.length
            return end if t < end else None
        start, until = self._aware(self.start), self._aware(self.until)
        return until.astimezone(UTC) if start <= t < until else None


#: ``mute:`` as written: one window or a list of them (a tuple: the empty default is shared, not
#: one list per rule of a 100k-rule file)
MuteWindows = Annotated[tuple[MuteWindow, ...], BeforeValidator(_single_or_list)]


def muted_until(windows: Sequence[MuteWindow], t: datetime) -> datetime | None:
    """The latest end among the windows holding ``t`` (None: not muted)."""
    ends = [end for w in windows if (end := w.muted_until(t)) is not None]
    return max(ends) if ends else None
