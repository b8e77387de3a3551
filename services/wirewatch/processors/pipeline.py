"""THE processing core: valid raw items -> processed items + alerts, as plain functions.

Order: language -> entities -> rule match (rules may use ``entity:``) -> dedupe (needs the
shared store) -> alerts. :meth:`Processor.enrich_batch` needs no shared state,
:meth:`Processor.finish_batch` reads and writes the dedupe store. Messages,
dead letters, keys and metrics around them are :mod:`wirewatch.processors.stage`'s,
which every path (CLI, Faust worker, ``wirewatch run``) runs.
"""

from __future__ import annotations

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
from wirewatch.processors.language import load as load_language_model
from wirewatch.processors.language import with_languages
from wirewatch.processors.ner import NerModels, resolve_ner
from wirewatch.processors.rules import MatchDocument, Rule, RuleSet, load_rules
from wirewatch.processors.signals import Signals
from wirewatch.search.analysis import entity_tokens, shared_search_tokens, tokenize

NerMode = Literal["auto", "on", "off"]


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


def make_alert(item: dict[str, Any], rule: Rule, matched_at: str | None = None) -> dict[str, Any]:
    """The alert (``schemas/alert.json``) for one processed item matching one rule.

    Its id is the notifier's idempotency key: one alert per rule and story, plus
    one per revision when the rule asks to hear about updates (``on_update``).
    """
    dedupe = item["dedupe"]
    story = item["story_id"]
    alert: dict[str, Any] = {
        "id": f"{rule.id}:{story}",
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
    revision = item.get("revision")
    if dedupe["status"] == "update" and rule.on_update and revision:
        alert["id"] += f":r{revision}"
        alert["revision"] = revision
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
    signals: list[Rule] = field(default_factory=list)  # the signal rules it matches (counted)

    def as_dict(self) -> dict[str, Any]:
        """JSON form, to cross a repartition topic between the two Faust stages."""
        out = {"item": self.item, "rules": [r.id for r in self.rules], "fp": self.fingerprint.as_dict(),
               "received": self.received}
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
                         [by_id[i] for i in data.get("signals", ()) if i in by_id])
                for data, fp in zip(datas, prints, strict=True)]

    def reload_rules(self, rules: RuleSet) -> None:
        """Swap the rule set; the next item is matched against the new rules."""
        self.rules = rules
        self._by_id = {r.id: r for r in _rule_list(rules)}
        metrics.RULES_LOADED.set(len(self._by_id))
        self.signals.reload(_rule_list(rules))

    def reset_state(self) -> None:
        """Forget what is derived from the store (LSH index, signal state): read again on next use,
        after the Faust app rebuilt its memory from the changelog."""
        self.deduper.reset_index()
        self.signals.reset()

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
        for kind, n in Counter(ent["type"] for item, _, _ in tagged for ent in item["entities"]).items():
            metrics.ENTITIES_TAGGED.labels(kind).inc(n)
        prints = fingerprints(raws, [tokens for _, _, tokens in tagged])
        enriched = [Enriched(item, rules, fp) for (item, rules, _), fp in zip(tagged, prints, strict=True)]
        if self.signals.active:  # signal rules are counted in stage 2, not alerted per item
            for one in enriched:
                if any(r.kind != "query" for r in one.rules):
                    one.signals = [r for r in one.rules if r.kind != "query"]
                    one.rules = [r for r in one.rules if r.kind == "query"]
                    one.item["alerts"] = [{"rule": r.id, "notify": list(r.notify)} for r in one.rules]
        return enriched

    def _tag_and_match(
        self, raw: dict[str, Any], ner_mentions: Sequence[Mention]
    ) -> tuple[dict[str, Any], list[Rule], list[str]]:
        """The item with entities and alerts, its matching rules, and the tokens dedupe compares.

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
        return item, matched, title_body

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
        item["processed_at"] = stamp
        alerts = [make_alert(item, rule, stamp) for rule in enriched.rules]
        # field order of the output line: raw fields, then what processing added, entities and
        # alerts last (re-inserted in place: the enriched item is not used after this)
        item["entities"] = item.pop("entities")
        item["alerts"] = item.pop("alerts")
        return ProcessResult(item, alerts)

    # -- both -----------------------------------------------------------
    def process(self, raw: dict[str, Any], now: datetime | None = None) -> ProcessResult:
        """One raw item end to end; raises SchemaError for an invalid one."""
        return self.finish(self.enrich(validate_raw(raw)), now)


def _rule_list(rules: RuleSet) -> list[Rule]:
    return list(rules.rules)


__all__ = ["Enriched", "ProcessResult", "Processor", "ProcessorConfig", "ProcessorParts", "SchemaError", "make_alert", "validate_raw"]
