"""Date bounds of range queries, read as Elasticsearch reads them on a ``date`` field.

``published_at:[now-1h TO now]`` must select the same items in the stream matcher,
the SQLite store and Elasticsearch, so this module implements the part of
Elasticsearch's date math (``JavaDateMathParser``) that queries may use, and
:mod:`wirewatch.search.query` refuses everything else with a clear message:

* an ISO date or date-time, UTC unless it says otherwise: ``2026-12-04``,
  ``2026-12-04T10``, ``2026-12-04T10:30``, ``2026-12-04T10:30:15``, ``...15.250``,
  with ``Z`` or an offset ``+02:00`` (``strict_date_optional_time``; a year or a
  year-month alone is refused: Elasticsearch fills a missing month and day with 01
  even for an upper bound, which no reader expects);
* ``now``, or an anchor ``DATE||``, followed by any number of ``+N<unit>`` /
  ``-N<unit>`` and at most one final rounding ``/<unit>``; units ``y M w d h H m s``
  (``M`` month, ``m`` minute, ``h`` and ``H`` hour): ``now-15m``, ``now-7d/d``,
  ``2026-12-04||+1M``.

Rounding up, as Elasticsearch does it: an inclusive upper bound (``TO x]``) and an
exclusive lower bound (``{x TO``) take the *last* millisecond of what the bound names
(``2026-12-04`` is up to ``23:59:59.999``; ``now/d`` up to the end of today); the other
two take its first millisecond. Times are kept as epoch milliseconds, as the index does
(a stored ``.123456`` is ``.123``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?)?"
    r"(?P<z>Z|[+-]\d{2}:\d{2})?"
)
_MATH = re.compile(r"([+-])(\d{1,9})([yMwdhHms])|/([yMwdhHms])")
_FIXED_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "H": 3_600_000, "m": 60_000, "s": 1000}
#: Supported forms, quoted in every error about a date bound.
FORMS = "a date (2026-12-04, 2026-12-04T10:30:00Z) or now with math (now-15m, now-1h, now-7d/d)"


def _quote(text: str, keep: int = 30) -> str:
    """A bound quoted in an error message, a hostile one shortened."""
    return repr(text) if len(text) <= keep else repr(text[:keep] + "...") + f" ({len(text)} characters)"


class DateMathError(ValueError):
    """A date bound this module (and so the query language) does not accept; the message says why."""


@dataclass(frozen=True)
class DateBound:
    """One parsed bound: ``anchor`` epoch ms (None: now), then ``steps`` and an optional rounding."""

    text: str
    anchor_down: int | None
    anchor_up: int | None
    steps: tuple[tuple[int, str], ...] = ()
    rounding: str | None = None

    @property
    def relative(self) -> bool:
        """Does the bound depend on the time it is evaluated at?"""
        return self.anchor_down is None

    def millis(self, round_up: bool, now_ms: int) -> int:
        """Epoch milliseconds of the bound: its last millisecond when ``round_up``."""
        if self.anchor_down is None:
            base = now_ms
        elif self.steps or self.rounding:  # an anchor before || is read without rounding up
            base = self.anchor_down
        else:
            return self.anchor_up if round_up and self.anchor_up is not None else self.anchor_down
        moment = _from_ms(base)
        for amount, unit in self.steps:
            moment = _add(moment, amount, unit)
        if self.rounding is None:
            return _to_ms(moment)
        start = _round_down(moment, self.rounding)
        if not round_up:
            return _to_ms(start)
        return _to_ms(_add(start, 1, self.rounding)) - 1


def parse_bound(text: str) -> DateBound:
    """Read one bound; :class:`DateMathError` names what is wrong with it, including math that
    leaves years 1-9999 (``now-99999y``), so evaluating an accepted bound never fails."""
    if text.startswith("now"):
        bound = DateBound(text, None, None, *_math(text, 3))
    else:
        anchor, sep, _ = text.partition("||")
        down, up = _iso(anchor)
        bound = DateBound(text, down, up, *_math(text, len(anchor) + 2)) if sep else DateBound(text, down, up)
    now = now_millis()
    for round_up in (False, True):
        bound.millis(round_up, now)
    return bound


def _math(text: str, start: int) -> tuple[tuple[tuple[int, str], ...], str | None]:
    steps: list[tuple[int, str]] = []
    rounding = None
    at = start
    while at < len(text):
        m = _MATH.match(text, at)
        if m is None or rounding is not None:
            raise DateMathError(f"cannot read date math {_quote(text[at:])} in {_quote(text)}: use {FORMS}")
        if m.group(4):
            rounding = m.group(4)
        else:
            steps.append((int(m.group(2)) * (1 if m.group(1) == "+" else -1), m.group(3)))
        at = m.end()
    return tuple(steps), rounding


def _iso(text: str) -> tuple[int, int]:
    """(first, last) millisecond named by an ISO date or date-time."""
    m = _DATE.fullmatch(text)
    if m is None:
        raise DateMathError(f"cannot read {_quote(text)} as a date: use {FORMS}")
    zone = UTC
    if m["z"] and m["z"] != "Z":
        sign = 1 if m["z"][0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(m["z"][1:3]), minutes=int(m["z"][4:6])))
    fraction = (m["f"] or "").ljust(3, "0")[:3]
    try:
        first = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
                         int(m["s"] or 0), int(fraction) * 1000, tzinfo=zone)
    except ValueError as exc:
        raise DateMathError(f"{_quote(text)} is no date ({exc})") from None
    unit = "s" if m["s"] else "m" if m["mi"] else "h" if m["h"] else "d"
    down = _to_ms(first)
    if m["f"]:  # every component given: nothing to round
        return down, down
    return down, down + _FIXED_MS[unit] - 1


def _from_ms(ms: int) -> datetime:
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        raise DateMathError("the date is beyond year 9999 or before year 1") from None


def _to_ms(moment: datetime) -> int:
    """Epoch milliseconds, truncated like Elasticsearch's date type (no float rounding)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _add(moment: datetime, amount: int, unit: str) -> datetime:
    """Calendar arithmetic as java.time's plusMonths/plusYears: the day is clamped to the month."""
    if unit in ("y", "M"):
        months = moment.month - 1 + amount * (12 if unit == "y" else 1)  # amount: at most 9 digits
        year, month = moment.year + months // 12, months % 12 + 1
        if not 1 <= year <= 9999:
            raise DateMathError(f"date math goes beyond year 9999 or before year 1 ({amount}{unit})")
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    try:
        return moment + timedelta(milliseconds=amount * _FIXED_MS[unit])
    except OverflowError:
        raise DateMathError(f"date math goes beyond year 9999 or before year 1 ({amount}{unit})") from None


def _round_down(moment: datetime, unit: str) -> datetime:
    """Start of the unit holding ``moment`` (UTC; weeks start on Monday)."""
    if unit == "y":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        return day - timedelta(days=moment.weekday())
    if unit == "d":
        return day
    if unit in ("h", "H"):
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def now_millis() -> int:
    """The current time in epoch milliseconds (what ``now`` means at evaluation)."""
    return _to_ms(datetime.now(UTC))


def stored_millis(stamp: str) -> int | None:
    """Epoch ms of a stored RFC 3339 time (truncated to ms as the index keeps it), None if unreadable."""
    m = _DATE.fullmatch(stamp)
    if m is None or not m["s"]:
        return None
    try:
        down, _ = _iso(stamp)
    except DateMathError:
        return None
    return down
