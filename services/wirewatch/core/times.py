"""Timestamps as every message writes them: RFC 3339, UTC, a literal ``Z``, a four-digit year.

One helper for all of them (items, dead letters, processed items, alerts), because
``strftime("%Y")`` writes year 1 as ``1`` on glibc, which no schema accepts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_NANOS = re.compile(r"(\.\d{6})\d+")


def rfc3339(moment: datetime, *, millis: bool = False) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SS[.mmm]Z`` (a naive moment is taken as UTC).

    Raises ``OverflowError`` when the moment has no UTC equivalent inside years 1-9999
    (e.g. ``0001-01-01T00:00+05:00``).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    m = moment.astimezone(UTC)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    if millis:
        text += f".{m.microsecond // 1000:03d}"
    return text + "Z"


def utc_now() -> str:
    """Now as RFC 3339 UTC with milliseconds and a ``Z``."""
    return rfc3339(datetime.now(UTC), millis=True)


def parse_rfc3339(text: str) -> datetime:
    """The aware datetime of an RFC 3339 timestamp (the contracts' ``utc_time``); ``ValueError``
    if it is no real date.

    ``2025-02-30T25:61:61Z`` matches the contract's pattern but is no date; neither is a leap
    second (``:60``), which Python and Elasticsearch both refuse.
    """
    # fromisoformat takes at most 6 fractional digits; the schema allows 9.
    return datetime.fromisoformat(_NANOS.sub(r"\1", text.replace("Z", "+00:00")))
