"""The processor stage: raw messages in; processed items, alerts and dead letters out, with their keys.

Every path runs this one batch function: ``wirewatch process`` (lines of stdin),
the Faust worker (:mod:`wirewatch.processors.faust_app`, which runs its two halves
:meth:`Stage.enrich` and :meth:`Stage.finish` on either side of a repartition
topic) and ``wirewatch run``. So decoding, validation, dead letters, output keys,
metric names and labels, what the latency metric measures and batch sizes are
defined here and nowhere else:

- a message that is not JSON, or not a valid raw item, becomes a dead letter
  (``schemas/dead_letter.json``, stage ``processor``) keyed like its input;
- processed items are keyed by story id (every item of a story lands in one
  partition, in order); alerts by rule id;
- ``wirewatch_processor_latency_seconds`` is the time from the raw message's
  timestamp (when it entered the bus; for stdin, when the line was read) to its
  outputs being ready;
- ``wirewatch_stage_items_total{stage="processor"}`` counts input messages,
  ``wirewatch_dead_letters_total{stage="processor"}`` the dead letters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirewatch.bus.base import Message, decode
from wirewatch.core import metrics
from wirewatch.core.deadletter import dead_letter_for
from wirewatch.core.errors import ConfigError, SchemaError
from wirewatch.core.logging import get_logger
from wirewatch.processors.pipeline import Enriched, Processor, ProcessResult, validate_raw
from wirewatch.processors.rules import RuleSet, load_rules

#: Items enriched together. Signatures amortise their numpy/rensa calls over a batch, but the
#: batch's token lists must still be in the CPU cache when they are read again: 16 items had
#: 20% fewer last-level cache misses than 64 (cachegrind, bench/README.md "Comparing two versions").
BATCH = 16
#: With spaCy, ``nlp.pipe`` gains from larger batches.
NER_BATCH = 64
#: Seconds between checks of the rules file for a change.
RULES_CHECK_SECONDS = 2.0

log = get_logger("processor")

Keyed = tuple[str | None, dict[str, Any]]


@dataclass
class Received:
    """The valid raw items of a batch of messages, enriched, and the dead letters of the others."""

    enriched: list[Enriched] = field(default_factory=list)
    dead_letters: list[Keyed] = field(default_factory=list)


@dataclass
class StageOutput:
    """What a batch produces, in input order, each with the key it is published under."""

    results: list[ProcessResult] = field(default_factory=list)
    processed: list[Keyed] = field(default_factory=list)
    alerts: list[Keyed] = field(default_factory=list)
    dead_letters: list[Keyed] = field(default_factory=list)


class Stage:
    """The one batch function around a :class:`Processor` (see the module docstring)."""

    def __init__(self, processor: Processor, max_message_bytes: int | None = None) -> None:
        self.processor = processor
        #: A bigger message is a dead letter before decoding (``wirewatch process --max-line-bytes``).
        self.max_message_bytes = max_message_bytes
        self._stage_items = metrics.STAGE_ITEMS.labels("processor")
        self._dead_letters = metrics.DEAD_LETTERS.labels("processor")

    @property
    def batch_size(self) -> int:
        """How many messages a driver should hand over at once."""
        return NER_BATCH if self.processor.ner is not None else BATCH

    def process(self, messages: Sequence[Message]) -> StageOutput:
        """Raw messages -> outputs: :meth:`enrich` then :meth:`finish`."""
        received = self.enrich(messages)
        return self.finish(received.enriched, received.dead_letters)

    def enrich(self, messages: Sequence[Message]) -> Received:
        """Decode and validate each message, then entities, matching rules and fingerprints.

        Needs no shared state, so the Faust worker runs it on every partition of the raw topic.
        """
        self._stage_items.inc(len(messages))
        received = Received()
        valid: list[tuple[dict[str, Any], float | None]] = []  # raw item, when it entered the bus
        for message in messages:
            raw = self._valid_raw(message, received.dead_letters)
            if raw is not None:
                valid.append((raw, message.timestamp_ms / 1000 if message.timestamp_ms is not None else None))
        for start in range(0, len(valid), self.batch_size):
            chunk = valid[start:start + self.batch_size]
            enriched = self.processor.enrich_batch([raw for raw, _stamp in chunk])
            for item, (_raw, stamp) in zip(enriched, chunk, strict=True):
                item.received = stamp
            received.enriched.extend(enriched)
        return received

    def finish(self, enriched: Sequence[Enriched], dead_letters: Sequence[Keyed] = ()) -> StageOutput:
        """Dedupe verdicts (the shared store), story ids and alerts, keyed for publishing."""
        out = StageOutput(dead_letters=list(dead_letters))
        out.results = self.processor.finish_batch(enriched) if enriched else []
        now = time.time()
        for result, item in zip(out.results, enriched, strict=True):
            out.processed.append((result.item["story_id"], result.item))
            out.alerts.extend((alert["rule"], alert) for alert in result.alerts)
            if item.received is not None:
                metrics.PROCESS_SECONDS.observe(max(0.0, now - item.received))
        return out

    def due_silences(self, now: float | None = None) -> list[Keyed]:
        """Silence alerts due now (:meth:`Signals.due_silences
        <wirewatch.processors.signals.Signals.due_silences>`), keyed like every alert. Drivers
        publish them, then call :meth:`silences_sent`; both from one timer of the dedupe owner."""
        return [(alert["rule"], alert) for alert in self.processor.signals.due_silences(now or time.time())]

    def silences_sent(self, alerts: Sequence[Keyed], now: float | None = None) -> None:
        """Mark published silence alerts, and let the signal state do its upkeep."""
        now = now or time.time()
        signals = self.processor.signals
        signals.silences_sent([alert for _key, alert in alerts], now)
        for _key, alert in alerts:
            metrics.ALERTS_MATCHED.labels(alert["rule"]).inc()
        signals.maintain(now)

    def _valid_raw(self, message: Message, dead_letters: list[Keyed]) -> dict[str, Any] | None:
        limit = self.max_message_bytes
        if limit is not None and len(message.raw) > limit:
            reason = f"too large: {len(message.raw):,} bytes, over the limit of {limit:,} bytes"
        else:
            try:
                value = message.value if message.value is not None else decode(message.raw)
                return validate_raw(value)
            except ValueError as exc:
                reason = f"invalid JSON: {exc}"
            except SchemaError as exc:
                reason = str(exc)
        record = dead_letter_for("processor", reason, message)
        self._dead_letters.inc()
        log.warning("bad raw item sent to dead letters", topic=message.topic, partition=message.partition,
                    offset=message.offset, reason=record["reason"])
        dead_letters.append((message.key, record))
        return None


class RulesWatcher:
    """Reloads the rules file when it changes; a broken edit keeps the previous rules (one log line)."""

    def __init__(
        self,
        path: Path,
        processor: Processor,
        every: float = RULES_CHECK_SECONDS,
        *,
        check: Callable[[RuleSet], None] | None = None,
    ) -> None:
        self.path = path
        self.processor = processor
        self.every = every
        self.extra_check = check  # more checks a new rule set must pass (raises ConfigError)
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def due(self) -> bool:
        """Whether :attr:`every` seconds passed since the last check (for drivers that poll)."""
        return time.monotonic() - self._checked >= self.every

    def check(self) -> bool:
        """Reload if the file changed since the last look; True when new rules are in force."""
        self._checked = time.monotonic()
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            rules = load_rules(self.path)
            if self.extra_check is not None:
                self.extra_check(rules)
        except ConfigError as exc:
            log.error("rules not reloaded, keeping the previous ones", reason=str(exc))
            return False
        self.processor.reload_rules(rules)
        log.info("rules reloaded", path=str(self.path), rules=len(rules.rules))
        return True
