"""Dead letters: what a stage could not handle, kept with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from wirewatch.core.schemas import validate
from wirewatch.core.text import shorten

#: Characters of a dead letter's reason.
REASON_MAX = 2000

Stage = Literal["poller", "processor", "indexer", "notifier"]


class Consumed(Protocol):
    """What a dead letter records of a consumed message (``bus.base.Message`` has it; core imports no bus)."""

    @property
    def raw(self) -> bytes: ...

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> str | None: ...


def utc_now() -> str:
    """Now as RFC 3339 UTC with milliseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def as_text(payload: bytes | str | Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload
    import json

    return json.dumps(payload, ensure_ascii=False, default=str)


def dead_letter(stage: Stage, reason: str, payload: bytes | str | Any, **meta: Any) -> dict[str, Any]:
    """A dead-letter record (``schemas/dead_letter.json``) for ``payload``.

    ``reason`` is squeezed onto one line and cut to 2,000 characters (head and tail kept): it
    is read in Kibana and in logs. ``payload`` is kept whole, so the record can be replayed.
    """
    record: dict[str, Any] = {
        "stage": stage,
        "reason": shorten(" ".join(str(reason).split()), REASON_MAX) or "unknown",
        "payload": as_text(payload),
        "at": utc_now(),
    }
    record.update({k: v for k, v in meta.items() if v is not None})
    validate("dead_letter", record)
    return record


def dead_letter_for(stage: Stage, reason: str, message: Consumed, **meta: Any) -> dict[str, Any]:
    """A dead letter for a consumed bus message: its raw bytes and where it came from."""
    return dead_letter(
        stage, reason, message.raw, topic=message.topic, partition=message.partition,
        offset=message.offset, key=message.key, **meta,
    )
