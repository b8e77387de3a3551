"""THE processing core: raw item -> processed item + alerts, as plain functions.

Shared line for line by ``wirewatch process`` (CLI), the Faust app and the
embedded runner. Order: validate -> entities -> rule match (rules may use
``entity:``) -> dedupe (needs the shared store) -> alerts. The Faust app runs
:meth:`Processor.enrich` and :meth:`Processor.finish` in two stages (see
:mod:`wirewatch.processors.faust_app`); :meth:`Processor.process` is both.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from wirewatch.core import metrics
from wirewatch.core.deadletter import utc_now
from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import validate, validator
from wirewatch.processors.dedupe import Deduper, Fingerprint, Verdict, fingerprints
from wirewatch.processors.entities import EntityTagger, NerModel
from wirewatch.processors.rules import MatchDocument, Rule, RuleSet
from wirewatch.search.analysis import entity_tokens, shared_search_tokens, tokenize


def validate_raw(obj: Any) -> dict[str, Any]:
    """``obj`` if it is a valid raw item (``schemas/raw_item.json``), else SchemaError.

    The fast ``is_valid`` runs first; the (slower) error search only for bad items.
    """
    if not isinstance(obj, dict) or not validator("raw_item").is_valid(obj):
        validate("raw_item", obj)
    return obj  # type: ignore[no-any-return]


def _time_str(now: datetime) -> str:
    """RFC 3339 UTC with milliseconds; the formatted second is reused (strftime per item was
    a visible share of the per-item cost)."""
    if now.tzinfo is not UTC:
        now = now.astimezone(UTC)
    return f"{_second_str(now.replace(microsecond=0))}.{now.microsecond // 1000:03d}Z"


@lru_cache(maxsize=8)
def _second_str(second: datetime) -> str:
    return second.strftime("%Y-%m-%dT%H:%M:%S")


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
    rules: list[Rule]
    fingerprint: Fingerprint

    def as_dict(self) -> dict[str, Any]:
        """JSON form, to cross a repartition topic between the two Faust stages."""
        return {"item": self.item, "rules": [r.id for r in self.rules], "fp": self.fingerprint.as_dict()}


class Processor:
    """Dedupe, entities and rule matching over one rule set, one tagger, one dedupe store."""

    def __init__(
        self,
        rules: RuleSet,
        tagger: EntityTagger,
        deduper: Deduper,
        ner: NerModel | None = None,
        *,
        observe_latency: bool = True,
    ) -> None:
        self.rules = rules
        self.tagger = tagger
        self.deduper = deduper
        self.ner = ner
        self.observe_latency = observe_latency
        self._by_id = {r.id: r for r in _rule_list(rules)}
        metrics.RULES_LOADED.set(len(self._by_id))
        # labelled children looked up once per label value (``labels()`` costs more than ``inc()``)
        self._entity_counter = cache(metrics.ENTITIES_TAGGED.labels)
        self._verdict_counter = cache(metrics.ITEMS_PROCESSED.labels)
        self._alert_counter = cache(metrics.ALERTS_MATCHED.labels)

    def reload_rules(self, rules: RuleSet) -> None:
        """Swap the rule set; the next item is matched against the new rules."""
        self.rules = rules
        self._by_id = {r.id: r for r in _rule_list(rules)}
        metrics.RULES_LOADED.set(len(self._by_id))

    # -- stage 1: no shared state -----------------------------------------
    def enrich(self, raw: dict[str, Any], ner_mentions: list[tuple[str, str]] | None = None) -> Enriched:
        """Entities, matching rules and the dedupe fingerprint of a valid raw item."""
        return self.enrich_batch([raw], None if ner_mentions is None else [ner_mentions])[0]

    def enrich_batch(
        self, raws: list[dict[str, Any]], ner_mentions: Sequence[Sequence[tuple[str, str]]] | None = None
    ) -> list[Enriched]:
        """:meth:`enrich` for many items: one batched NER pass (when there is a model and no
        ``ner_mentions``) and one batched signature pass (:func:`fingerprints`)."""
        if ner_mentions is None:
            if self.ner is not None and raws:
                ner_mentions = self.ner.mentions([_ner_text(r) for r in raws])
            else:
                ner_mentions = [()] * len(raws)
        tagged = [self._tag_and_match(raw, m) for raw, m in zip(raws, ner_mentions, strict=True)]
        for kind, n in Counter(ent["type"] for item, _, _ in tagged for ent in item["entities"]).items():
            self._entity_counter(kind).inc(n)
        prints = fingerprints(raws, [tokens for _, _, tokens in tagged])
        return [Enriched(item, rules, fp) for (item, rules, _), fp in zip(tagged, prints, strict=True)]

    def _tag_and_match(
        self, raw: dict[str, Any], ner_mentions: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Any], list[Rule], list[str]]:
        """The item with entities and alerts, its matching rules, and the tokens dedupe compares."""
        # tokenised once, shared by the gazetteer, the rule matcher and dedupe
        fields = shared_search_tokens(raw)
        title, body = fields["title"][0], fields["body"][0]
        summary = tokenize(raw.get("summary") or "")
        title_body = [*title, *body]
        item = dict(raw)
        entities = item["entities"] = self.tagger.tag(
            raw, ner_mentions, [*title, *summary, *body] if summary else title_body
        )
        fields["entity"] = entity_tokens(entities)
        matched = self.rules.match(MatchDocument(fields))
        item["alerts"] = [{"rule": r.id, "notify": list(r.notify)} for r in matched]
        return item, matched, title_body

    def rules_by_id(self, ids: list[str]) -> list[Rule]:
        """Rules of stage 1 looked up again in stage 2 (a reload in between drops removed ones)."""
        return [self._by_id[i] for i in ids if i in self._by_id]

    # -- stage 2: the dedupe store --------------------------------------
    def finish(self, enriched: Enriched, now: datetime | None = None, *, with_alerts: bool = True) -> ProcessResult:
        """Dedupe verdict, story id and alerts; commits the item to the dedupe store.

        ``with_alerts=False`` skips building alert records (the CLI prints items only).
        """
        return self.finish_batch([enriched], now, with_alerts=with_alerts)[0]

    def finish_batch(
        self, batch: Sequence[Enriched], now: datetime | None = None, *, with_alerts: bool = True
    ) -> list[ProcessResult]:
        """:meth:`finish` for many items in order, at one ``now`` (a batch takes milliseconds);
        metrics are counted once per batch."""
        now = now or datetime.now(UTC)
        stamp, ts = _time_str(now), now.timestamp()
        results = [self._finish(enriched, ts, stamp, with_alerts) for enriched in batch]
        for status, n in Counter(r.item["dedupe"]["status"] for r in results).items():
            self._verdict_counter(status).inc(n)
        for rule_id, n in Counter(rule.id for enriched in batch for rule in enriched.rules).items():
            self._alert_counter(rule_id).inc(n)
        return results

    def _finish(self, enriched: Enriched, ts: float, stamp: str, with_alerts: bool) -> ProcessResult:
        verdict: Verdict = self.deduper.check(enriched.fingerprint, ts)
        self.deduper.commit(enriched.fingerprint, verdict, ts)
        item = enriched.item
        item["dedupe"] = verdict.as_dict()
        item["story_id"] = verdict.story_id(item["id"])
        if verdict.status == "update" and "revision" not in item:
            item["revision"] = verdict.revision
        item["processed_at"] = stamp
        alerts = [make_alert(item, rule, stamp) for rule in enriched.rules] if with_alerts else []
        # field order of the output line: raw fields, then what processing added, entities and
        # alerts last (re-inserted in place: the enriched item is not used after this)
        item["entities"] = item.pop("entities")
        item["alerts"] = item.pop("alerts")
        return ProcessResult(item, alerts)

    # -- both -----------------------------------------------------------
    def process(self, raw: dict[str, Any], now: datetime | None = None) -> ProcessResult:
        """One raw item end to end; raises SchemaError for an invalid one (-> dead letter)."""
        start = time.perf_counter()
        result = self.finish(self.enrich(validate_raw(raw)), now)
        if self.observe_latency:
            metrics.PROCESS_SECONDS.observe(time.perf_counter() - start)
        return result

    def process_batch(self, raws: list[dict[str, Any]]) -> list[ProcessResult]:
        """Many valid raw items in order, with NER batched (``nlp.pipe``)."""
        start = time.perf_counter()
        enriched = self.enrich_batch([validate_raw(r) for r in raws])
        results = self.finish_batch(enriched)
        if self.observe_latency and results:
            per_item = (time.perf_counter() - start) / len(results)
            for _ in results:
                metrics.PROCESS_SECONDS.observe(per_item)
        return results


def _rule_list(rules: RuleSet) -> list[Rule]:
    return list(rules.rules)


def _ner_text(raw: dict[str, Any]) -> str:
    return f"{raw.get('title', '')}.\n{raw.get('body', '')}"


__all__ = ["Enriched", "ProcessResult", "Processor", "SchemaError", "make_alert", "validate_raw"]
