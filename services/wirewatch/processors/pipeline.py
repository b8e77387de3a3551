"""THE processing core: valid raw items -> processed items + alerts, as plain functions.

Order: language -> entities -> rule match (rules may use ``entity:``) -> dedupe (needs the
shared store) -> alerts. :meth:`Processor.enrich_batch` needs no shared state,
:meth:`Processor.finish_batch` reads and writes the dedupe store. Messages,
dead letters, keys and metrics around them are :mod:`wirewatch.processors.stage`'s,
which every path (CLI, Faust worker, ``wirewatch run``) runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from wirewatch.core import metrics
from wirewatch.core.deadletter import utc_now
from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import validate, validator
from wirewatch.core.times import rfc3339
from wirewatch.processors.dedupe import Deduper, Fingerprint, Verdict, fingerprints
from wirewatch.processors.entities import EntityTagger, Mention, load_watchlist
from wirewatch.processors.events import EventClusterer, event_features
from wirewatch.processors.language import load as load_language_model
from wirewatch.processors.language import with_languages
from wirewatch.processors.ner import NerModels, resolve_ner
from wirewatch.processors.rules import MatchDocument, Rule, RuleSet, load_rules
from wirewatch.processors.signals import Signals
from wirewatch.search.analysis import entity_tokens, shared_search_tokens, tokenize

NerMode = Literal["auto", "on", "off"]
#: Characters of the lead searched for quotes (events.event_features).
_LEAD_CHARS = 600


def validate_raw(obj: Any) -> dict[str, Any]:
    """``obj`` if it is a valid raw item (``schemas/raw_item.json``), else SchemaError.

    The fast ``is_valid`` runs first; the (slower) error search only for bad items.
    """
    if not isinstance(obj, dict) or not validator("raw_item").is_valid(obj):
        validate("raw_item", obj)
    return obj  # type: ignore[no-any-return]


def _time_str(now: datetime) -> str:
    """RFC 3339 UTC with milliseconds (one per batch: every item of a batch shares it)."""
    return rfc3339(now, millis=True)


def alert_unit(item: dict[str, Any], rule: Rule) -> str:
    """What the rule alerts once per (``per``), as the start of the alert id: ``<rule>:item:<item
    id>``, ``<rule>:<story id>`` (the default, as before ``per`` existed) or ``<rule>:event:<event id>``."""
    if rule.per == "item":
        return f"{rule.id}:item:{item['id']}"
    if rule.per == "event":
        return f"{rule.id}:event:{item.get('event_id') or item['story_id']}"
    return f"{rule.id}:{item['story_id']}"


def make_alert(
    item: dict[str, Any], rule: Rule, matched_at: str | None = None, window: str | None = None
) -> dict[str, Any]:
    """The alert (``schemas/alert.json``) for one processed item matching one rule.

    Its id is the notifier's idempotency key (formats in ``schemas/alert.json``): one alert
    per rule and unit of ``per`` (item, story or event), plus one per revision when the rule
    asks to hear about updates (``on_update``), plus one per ``re_alert`` window (``window``:
    the window's start, ``YYYYMMDDTHHMMSSZ``).
    """
    dedupe = item["dedupe"]
    story = item["story_id"]
    alert: dict[str, Any] = {
        "id": alert_unit(item, rule),
        "rule": rule.id,
        "query": rule.query,
        "notify": list(rule.notify),
        "item_id": item["id"],
        "story_id": story,
        "dedupe_status": dedupe["status"],
        "title": item["title"],
        "url": item["url"],
        "source": dict(item["source"]),
        "published_at": item["published_at"],
        "matched_at": matched_at or utc_now(),
    }
    if item.get("event_id"):
        alert["event_id"] = item["event_id"]
    alert["per"] = rule.per
    revision = item.get("revision")
    if dedupe["status"] == "update" and rule.on_update and revision:
        # an update of the item (per item), of the story (per story), of one story of the event
        alert["id"] += f":{story}:r{revision}" if rule.per == "event" else f":r{revision}"
        alert["revision"] = revision
    if window is not None:
        alert["id"] += f":w{window}"
    if rule.throttle:
        alert["throttle_seconds"] = rule.throttle.total_seconds()
    if rule.digest is not None or rule.mute:
        alert.update(rule.alert_marks(alert["matched_at"]))
    if item.get("summary"):
        alert["summary"] = item["summary"]
    if item.get("entities"):
        alert["entities"] = [e["name"] for e in item["entities"]]
    if item.get("tags"):
        alert["tags"] = list(item["tags"])
    return alert


@dataclass
class ProcessResult:
    """One processed item (``schemas/processed_item.json``) and the alerts it raises."""

    item: dict[str, Any]
    alerts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Enriched:
    """Stage 1 output: everything that needs no shared state."""

    item: dict[str, Any]  # raw fields + entities + alerts
    rules: list[Rule]  # the query rules it matches (one alert each)
    fingerprint: Fingerprint
    received: float | None = None  # epoch seconds the raw message entered the bus (latency metric)
    features: list[str] = field(default_factory=list)  # what events compare (events.event_features)
    signals: list[Rule] = field(default_factory=list)  # the signal rules it matches (counted)

    def as_dict(self) -> dict[str, Any]:
        """JSON form, to cross a repartition topic between the two Faust stages."""
        out = {"item": self.item, "rules": [r.id for r in self.rules], "fp": self.fingerprint.as_dict(),
               "received": self.received, "ev": self.features}
        if self.signals:
            out["signals"] = [r.id for r in self.signals]
        return out


@dataclass(frozen=True)
class ProcessorConfig:
    """What a processor is made of, as plain values (from the command line or ``wirewatch run``)."""

    rules: Path
    watchlist: Path | None = None
    ner: NerMode = "auto"

    def load(self) -> ProcessorParts:
        """Read and check every file and model named here (ConfigError on the first mistake)."""
        watch = load_watchlist(self.watchlist) if self.watchlist else []
        return ProcessorParts(load_rules(self.rules), EntityTagger(watch), resolve_ner(self.ner))


@dataclass(frozen=True)
class ProcessorParts:
    """A :class:`ProcessorConfig` loaded: everything a processor needs but its dedupe store."""

    rules: RuleSet
    tagger: EntityTagger
    ner: NerModels | None


class Processor:
    """Dedupe, entities and rule matching over one rule set, one tagger, one dedupe store."""

    def __init__(
        self,
        rules: RuleSet,
        tagger: EntityTagger,
        deduper: Deduper,
        ner: NerModels | None = None,
    ) -> None:
        self.rules = rules
        self.tagger = tagger
        self.deduper = deduper
        self.events = EventClusterer(deduper.store)
        self.ner = ner
        load_language_model()  # here, so a broken install fails at start, not on the first item
        self._by_id = {r.id: r for r in _rule_list(rules)}
        metrics.RULES_LOADED.set(len(self._by_id))
        #: Spike, new-entity and silence rules, their state in the dedupe store (inactive without any).
        self.signals = Signals(deduper.store, _rule_list(rules))

    @classmethod
    def from_config(cls, config: ProcessorConfig | ProcessorParts, store: MutableMapping[str, Any]) -> Processor:
        """A processor as ``config`` says (loaded here unless already loaded); ``store`` keeps the
        dedupe memory."""
        parts = config.load() if isinstance(config, ProcessorConfig) else config
        return cls(parts.rules, parts.tagger, Deduper(store), parts.ner)

    def enriched_from_dicts(self, datas: Sequence[dict[str, Any]]) -> list[Enriched]:
        """:meth:`Enriched.as_dict` read back in stage 2 (a rule reloaded in between is dropped)."""
        by_id = self._by_id
        prints = Fingerprint.from_dicts([data["fp"] for data in datas])
        return [Enriched(data["item"], [by_id[i] for i in data["rules"] if i in by_id], fp, data.get("received"),
                         data.get("ev") or [], [by_id[i] for i in data.get("signals", ()) if i in by_id])
                for data, fp in zip(datas, prints, strict=True)]

    def reset_memory(self) -> None:
        """Forget the indexes derived from the dedupe memory (rebuilt on next use): after the
        memory was replaced, e.g. a rebalance handed this worker the dedupe partition."""
        self.deduper.reset_index()
        self.events.reset_index()
        self.signals.reset()

    def purge(self) -> None:
        """Drop expired records from the dedupe memory and its derived indexes; signal upkeep
        (:meth:`Signals.maintain <wirewatch.processors.signals.Signals.maintain>`)."""
        self.deduper.purge()
        self.events.compact(time.time() - self.events.window)
        self.signals.maintain(time.time(), force=True)

    def reload_rules(self, rules: RuleSet) -> None:
        """Swap the rule set; the next item is matched against the new rules."""
        self.rules = rules
        self._by_id = {r.id: r for r in _rule_list(rules)}
        metrics.RULES_LOADED.set(len(self._by_id))
        self.signals.reload(_rule_list(rules))

    # -- stage 1: no shared state -----------------------------------------
    def enrich(self, raw: dict[str, Any], ner_mentions: list[Mention] | None = None) -> Enriched:
        """Entities, matching rules and the dedupe fingerprint of a valid raw item."""
        return self.enrich_batch([raw], None if ner_mentions is None else [ner_mentions])[0]

    def enrich_batch(
        self, raws: list[dict[str, Any]], ner_mentions: Sequence[Sequence[Mention]] | None = None
    ) -> list[Enriched]:
        """:meth:`enrich` for many items: one batched NER pass per language with a model (when
        there is one and no ``ner_mentions``) and one batched signature pass (:func:`fingerprints`)."""
        # first: rules match ``language:`` and NER picks its model by it
        raws = with_languages(raws)
        if ner_mentions is None:
            if self.ner is not None and raws:
                ner_mentions = self.ner.item_mentions(raws)
            else:
                ner_mentions = [()] * len(raws)
        tagged = [self._tag_and_match(raw, m) for raw, m in zip(raws, ner_mentions, strict=True)]
        for kind, n in Counter(ent["type"] for item, _, _, _ in tagged for ent in item["entities"]).items():
            metrics.ENTITIES_TAGGED.labels(kind).inc(n)
        prints = fingerprints(raws, [tokens for _, _, tokens, _ in tagged])
        enriched = [Enriched(item, rules, fp, None, features)
                    for (item, rules, _, features), fp in zip(tagged, prints, strict=True)]
        if self.signals.active:  # signal rules are counted in stage 2, not alerted per item
            for one in enriched:
                if any(r.kind != "query" for r in one.rules):
                    one.signals = [r for r in one.rules if r.kind != "query"]
                    one.rules = [r for r in one.rules if r.kind == "query"]
                    one.item["alerts"] = [{"rule": r.id, "notify": list(r.notify)} for r in one.rules]
        return enriched

    def _tag_and_match(
        self, raw: dict[str, Any], ner_mentions: Sequence[Mention]
    ) -> tuple[dict[str, Any], list[Rule], list[str], list[str]]:
        """The item with entities and alerts, its matching rules, the tokens dedupe compares and
        the features events compare.

        ``raw`` is :func:`with_languages`' copy, so it becomes the item itself: the caller's
        message stays as it was without a second copy.
        """
        # tokenised once, shared by the gazetteer, the rule matcher and dedupe
        fields = shared_search_tokens(raw)
        title, body = fields["title"][0], fields["body"][0]
        summary = tokenize(raw.get("summary") or "")
        title_body = [*title, *body]
        item = raw
        entities = item["entities"] = self.tagger.tag(
            raw, ner_mentions, [*title, *summary, *body] if summary else title_body
        )
        fields["entity"] = entity_tokens(entities)
        matched = self.rules.match(MatchDocument(fields, item))
        item["alerts"] = [{"rule": r.id, "notify": list(r.notify)} for r in matched]
        lead_text = raw.get("summary") or raw.get("body") or ""
        features = event_features(title, summary or body, (raw["title"], lead_text[:_LEAD_CHARS]), entities,
                                  raw.get("language"))
        return item, matched, title_body, features

    # -- stage 2: the dedupe store --------------------------------------
    def finish(self, enriched: Enriched, now: datetime | None = None) -> ProcessResult:
        """Dedupe verdict, story id and alerts; commits the item to the dedupe store."""
        return self.finish_batch([enriched], now)[0]

    def finish_batch(
        self, batch: Sequence[Enriched], now: datetime | None = None
    ) -> list[ProcessResult]:
        """:meth:`finish` for many items in order, at one ``now`` (a batch takes milliseconds);
        metrics are counted once per batch."""
        now = now or datetime.now(UTC)
        stamp, ts = _time_str(now), now.timestamp()
        signals = self.signals
        again: list[bool] = []
        if signals.active:  # a re-delivery (at-least-once) is not counted twice: asked before dedupe commits it
            again = [self.deduper.redelivered(e.fingerprint, ts) is not None for e in batch]
        results = [self._finish(enriched, ts, stamp) for enriched in batch]
        if signals.active:
            fired = signals.observe([(r.item, e.signals, a) for r, e, a in zip(results, batch, again, strict=True)], ts)
            for result, alerts in zip(results, fired, strict=True):
                result.alerts.extend(alerts)
                for alert in alerts:
                    metrics.ALERTS_MATCHED.labels(alert["rule"]).inc()
        for status, n in Counter(r.item["dedupe"]["status"] for r in results).items():
            metrics.ITEMS_PROCESSED.labels(status).inc(n)
        for rule_id, n in Counter(rule.id for enriched in batch for rule in enriched.rules).items():
            metrics.ALERTS_MATCHED.labels(rule_id).inc(n)
        return results

    def _finish(self, enriched: Enriched, ts: float, stamp: str) -> ProcessResult:
        verdict: Verdict = self.deduper.check(enriched.fingerprint, ts)
        self.deduper.commit(enriched.fingerprint, verdict, ts)
        item = enriched.item
        item["dedupe"] = verdict.as_dict()
        item["story_id"] = verdict.story_id(item["id"])
        if verdict.status == "update" and "revision" not in item:
            item["revision"] = verdict.revision
        event = self.events.assign(item["id"], item["story_id"], verdict.status, enriched.features, ts)
        item["event_id"] = event.event_id
        if event.merged:
            item["event_merged"] = event.merged
        item["processed_at"] = stamp
        alerts = [make_alert(item, rule, stamp, self._window(item, rule, ts)) for rule in enriched.rules]
        # field order of the output line: raw fields, then what processing added, entities and
        # alerts last (re-inserted in place: the enriched item is not used after this)
        item["entities"] = item.pop("entities")
        item["alerts"] = item.pop("alerts")
        return ProcessResult(item, alerts)

    def _window(self, item: dict[str, Any], rule: Rule, ts: float) -> str | None:
        """The start of the rule's ``re_alert`` window for this item's unit (None without
        ``re_alert``): a new window when the last one started longer than ``re_alert`` ago.
        Kept in the dedupe memory (``a:<rule unit>``) so it survives restarts."""
        if rule.re_alert is None:
            return None
        key = f"a:{alert_unit(item, rule)}"
        state = self.deduper.store.get(key)
        start = state["w"] if state is not None else None
        if start is None or ts - start > rule.re_alert.total_seconds():
            start = ts
        if state is None or state["w"] != start or ts - state["t"] > 3600:  # "t" keeps it from the purge
            self.deduper.store[key] = {"w": start, "t": ts}
        return datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")

    # -- both -----------------------------------------------------------
    def process(self, raw: dict[str, Any], now: datetime | None = None) -> ProcessResult:
        """One raw item end to end; raises SchemaError for an invalid one."""
        return self.finish(self.enrich(validate_raw(raw)), now)


def _rule_list(rules: RuleSet) -> list[Rule]:
    return list(rules.rules)


__all__ = ["Enriched", "ProcessResult", "Processor", "ProcessorConfig", "ProcessorParts", "SchemaError", "alert_unit", "make_alert", "validate_raw"]
