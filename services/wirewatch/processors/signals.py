"""Spike, new-entity and silence rules: evaluated in the stream, state in the dedupe memory.

Every path runs this one module: :meth:`Processor.finish_batch
<wirewatch.processors.pipeline.Processor.finish_batch>` calls :meth:`Signals.observe`
for each batch, and a timer (the Faust worker owning the dedupe partition, the
``wirewatch run`` processor task) calls :meth:`Signals.due_silences` and
:meth:`Signals.maintain`. The state lives in the store the deduper writes (``sig:`` keys):
the Faust table ``dedupe-batches``' changelog on Kafka, SQLite in ``wirewatch run``;
so counts, windows and learned entities survive a restart, and a worker handed the
dedupe partition reads them back (:meth:`Signals.reset`).

Why not Faust's windowed tables: a spike compares the last hour with the 24 hours
before it; a hopping table would need one window per bucket step and a read of
every window of the baseline per item, and it would exist only on the Kafka path.
Per-bucket counters in the changelogged memory are ~300 small keys a rule, run the
same code in ``wirewatch run``, and recover with the dedupe memory.

Time is processing time (the batch's ``now``), not ``published_at``: "no items for
2h" and "12 items in the last hour" are about what arrived, and a feed's clock or a
back-filled archive must not start or end a spike.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wirewatch.core.times import rfc3339
from wirewatch.processors.rules import Rule
from wirewatch.search.analysis import normalize

#: Key prefixes in the store: s spike, n new entity, q silence (quiet).
PREFIX = "sig:"
#: A spike window is counted in this many buckets (1h -> 5 min buckets; 24h baseline -> 288).
BUCKETS_PER_WINDOW = 12
#: A key not written for this long is written again (:meth:`Signals.maintain`): the Faust table
#: purges changelog entries older than the dedupe window (72 h), and learned entities and
#: silence state must outlive that.
REWRITE_SECONDS = 24 * 3600.0
#: A learned entity's "last seen" is written at most this often (memory keeps the exact time).
TOUCH_SECONDS = 3600.0
#: How often :meth:`Signals.maintain` does its walk (prune and rewrite).
MAINTAIN_SECONDS = 600.0
#: How often the drivers ask for silence alerts.
SILENCE_CHECK_SECONDS = 5.0
#: ``types:`` names -> the entity labels of processed items.
ENTITY_TYPES = {"person": {"PERSON"}, "organisation": {"ORG"}, "place": {"GPE", "LOC", "FAC"}}

#: The key letter of each signal kind's state.
_KIND_KEYS = {"spike": "s", "new_entity": "n", "silence": "q"}

Alert = dict[str, Any]


def state_key(kind: str, rule_id: str, *rest: object) -> str:
    """``sig:<kind>:<len>:<rule id>[:<part>...]``: the length keeps ids holding ``:`` apart."""
    key = f"{PREFIX}{kind}:{len(rule_id)}:{rule_id}"
    return key + "".join(f":{part}" for part in rest)


def parse_key(key: str) -> tuple[str, str, str] | None:
    """(kind, rule id, rest) of a :func:`state_key`; None for any other key."""
    if not key.startswith(PREFIX):
        return None
    kind, _, tail = key[len(PREFIX):].partition(":")
    size, _, tail = tail.partition(":")
    if not size.isdigit():
        return None
    n = int(size)
    return kind, tail[:n], tail[n + 1:]


def stamp(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds (what alert ids and figures show)."""
    return rfc3339(datetime.fromtimestamp(ts, UTC), millis=True)


def _span_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60}m"
    return f"{minutes}m" if minutes else f"{seconds:.0f}s"


def _alert(rule: Rule, kind: str, key: str, title: str, figures: dict[str, Any], now: float,
           item: dict[str, Any] | None) -> Alert:
    """A signal alert (``schemas/alert.json``): the item fields are the item that made it fire
    (a silence's last item, or empty when nothing came since the rule started)."""
    alert: Alert = {"id": f"{rule.id}:{kind}:{key}", "rule": rule.id, "kind": kind}
    if rule.query:
        alert["query"] = rule.query
    alert["notify"] = list(rule.notify)
    if item is not None:
        alert.update({"item_id": item["id"], "story_id": item.get("story_id", item["id"]),
                      "dedupe_status": item.get("dedupe", {}).get("status", "new"), "title": title,
                      "url": item.get("url", ""), "source": dict(item["source"]),
                      "published_at": item["published_at"]})
        if item.get("event_id"):
            alert["event_id"] = item["event_id"]
    else:
        alert.update({"item_id": "", "story_id": "", "dedupe_status": "new", "title": title, "url": "",
                      "source": {"id": rule.source or rule.id}, "published_at": stamp(now)})
    alert["matched_at"] = stamp(now)
    alert["figures"] = figures
    if rule.throttle:
        alert["throttle_seconds"] = rule.throttle.total_seconds()
    if rule.digest is not None or rule.mute:  # digests and mute windows apply as to any alert
        alert.update(rule.alert_marks(alert["matched_at"]))
    return alert


def _last_item(item: dict[str, Any]) -> dict[str, Any]:
    """What a silence rule keeps of the last item it saw (for its alert)."""
    last = {"id": item["id"], "story_id": item.get("story_id", item["id"]), "title": item.get("title", ""),
            "url": item.get("url", ""), "source": dict(item["source"]), "published_at": item["published_at"]}
    if item.get("event_id"):
        last["event_id"] = item["event_id"]
    return last


@dataclass
class _Spike:
    rule: Rule
    bucket: float  # seconds a bucket
    since: float  # when this rule started counting (no alert before a full baseline)
    fired: Alert | None = None  # the alert of the current crossing (re-emitted for a re-delivery)
    counts: dict[int, int] = field(default_factory=dict)  # bucket number -> items

    @property
    def k(self) -> int:
        return BUCKETS_PER_WINDOW

    @property
    def nb(self) -> int:
        assert self.rule.baseline is not None
        return round(self.rule.baseline.total_seconds() / self.bucket)

    def sums(self, b: int) -> tuple[int, int]:
        """(window count, baseline count) with ``b`` the current bucket."""
        counts = self.counts
        window = sum(counts.get(i, 0) for i in range(b - self.k + 1, b + 1))
        base = sum(counts.get(i, 0) for i in range(b - self.k - self.nb + 1, b - self.k + 1))
        return window, base

    def over(self, window: int, base: int) -> bool:
        rule = self.rule
        return window >= rule.min_count and window >= rule.factor * base * self.k / self.nb


@dataclass
class _NewEntity:
    rule: Rule
    since: float
    seen: OrderedDict[str, float] = field(default_factory=OrderedDict)  # entity key -> last seen, LRU order
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # entity key -> its stored record


@dataclass
class _Silence:
    rule: Rule
    record: dict[str, Any]  # {"since", "last", "item", "f": stamp of the silence alerted, "w"}


class Signals:
    """The signal rules of a rule set and their state (see the module docstring)."""

    def __init__(self, store: MutableMapping[str, Any], rules: Iterable[Rule] = ()) -> None:
        self.store = store
        self._maintained = 0.0
        self.reload(rules)

    # -- set-up ---------------------------------------------------------
    def reload(self, rules: Iterable[Rule]) -> None:
        """Take the signal rules of a (re)loaded rule set; their state is read again on next use."""
        signal_rules = [r for r in rules if r.kind != "query"]
        self.rules = {r.id: r for r in signal_rules}
        self.by_source: dict[str, list[Rule]] = {}
        for rule in signal_rules:
            if rule.kind == "silence" and rule.source and not rule.query:
                self.by_source.setdefault(rule.source, []).append(rule)
        #: Whether any signal rule is loaded: the processor skips this module entirely if not.
        self.active = bool(signal_rules)
        self.reset()

    def reset(self) -> None:
        """Forget the in-memory state: read again from the store on next use (after a rebalance)."""
        self._spikes: dict[str, _Spike] = {}
        self._entities: dict[str, _NewEntity] = {}
        self._silences: dict[str, _Silence] = {}
        self._loaded = False

    def _load(self, now: float) -> None:
        """The state of every signal rule from the store, pruned; new rules start at ``now``."""
        if self._loaded:
            return
        self._loaded = True
        records: dict[tuple[str, str], Any] = {}
        parts: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        kinds = {rule.id: _KIND_KEYS[rule.kind] for rule in self.rules.values()}
        for key, value in list(self.store.items()):
            parsed = parse_key(key) if key.startswith(PREFIX) else None
            if parsed is None:
                continue
            kind, rule_id, rest = parsed
            if kinds.get(rule_id) != kind:  # a rule removed (or its kind changed): its state goes
                del self.store[key]
                continue
            if rest:
                parts.setdefault((kind, rule_id), []).append((rest, value))
            else:
                records[(kind, rule_id)] = value
        for rule in self.rules.values():
            if rule.kind == "spike":
                self._load_spike(rule, records.get(("s", rule.id)), parts.get(("s", rule.id), []), now)
            elif rule.kind == "new_entity":
                self._load_entities(rule, records.get(("n", rule.id)), parts.get(("n", rule.id), []), now)
            else:
                record = records.get(("q", rule.id))
                if record is None:
                    record = {"since": now, "last": None, "item": None, "f": None, "w": now}
                    self.store[state_key("q", rule.id)] = record
                self._silences[rule.id] = _Silence(rule, dict(record))

    def _load_spike(self, rule: Rule, record: Any, buckets: list[tuple[str, Any]], now: float) -> None:
        assert rule.window is not None
        bucket = rule.window.total_seconds() / BUCKETS_PER_WINDOW
        if record is None or record.get("bucket") != bucket:  # new rule, or its window changed
            record = {"since": now, "fired": None, "bucket": bucket, "w": now}
            self.store[state_key("s", rule.id)] = record
            buckets = []
        spike = _Spike(rule, bucket, record["since"], record.get("fired"))
        for rest, value in buckets:
            if rest.lstrip("-").isdigit():
                spike.counts[int(rest)] = value["n"]
        self._spikes[rule.id] = spike
        self._prune_spike(spike, int(now // bucket))

    def _load_entities(self, rule: Rule, record: Any, entities: list[tuple[str, Any]], now: float) -> None:
        if record is None:
            record = {"since": now, "w": now}
            self.store[state_key("n", rule.id)] = record
        state = _NewEntity(rule, record["since"])
        for name, value in sorted(entities, key=lambda kv: kv[1]["seen"]):
            state.seen[name] = value["seen"]
            state.written[name] = value
        self._entities[rule.id] = state
        self._prune_entities(state, now)

    # -- per batch ------------------------------------------------------
    def observe(self, batch: Sequence[tuple[dict[str, Any], Sequence[Rule], bool]], now: float) -> list[list[Alert]]:
        """Count a batch of processed items: (item, the signal rules it matched, whether it is a
        re-delivery); the alerts each item fires, in order. A re-delivered item is not counted
        again, but gets back an alert it fired the first time (same id)."""
        self._load(now)
        out: list[list[Alert]] = []
        dirty: dict[str, Any] = {}
        by_source = self.by_source
        for item, rules, again in batch:
            alerts: list[Alert] = []
            watched = list(rules)
            if by_source:
                watched.extend(by_source.get(item["source"]["id"], ()))
            for rule in watched:
                if rule.kind == "spike":
                    alert = self._spike(self._spikes[rule.id], item, again, now, dirty)
                elif rule.kind == "new_entity":
                    self._new_entities(self._entities[rule.id], item, again, now, dirty, alerts)
                    alert = None
                else:
                    self._seen(self._silences[rule.id], item, now, dirty)
                    alert = None
                if alert is not None:
                    alerts.append(alert)
            out.append(alerts)
        for key, value in dirty.items():  # one write a key a batch (one changelog record on Kafka)
            self.store[key] = value
        return out

    def _spike(self, spike: _Spike, item: dict[str, Any], again: bool, now: float, dirty: dict[str, Any]) -> Alert | None:
        rule = spike.rule
        if again:
            fired = spike.fired
            return fired if fired is not None and fired["item_id"] == item["id"] else None
        status = item.get("dedupe", {}).get("status")
        if status == "update":  # a revision of an item already counted
            return None
        b = int(now // spike.bucket)
        window, base = spike.sums(b)
        if spike.fired is not None and not spike.over(window, base):  # fell back below: re-armed
            spike.fired = None
            dirty[state_key("s", rule.id)] = self._spike_record(spike, now)
        spike.counts[b] = spike.counts.get(b, 0) + 1
        self._prune_spike(spike, b)
        dirty[state_key("s", rule.id, b)] = {"n": spike.counts[b], "w": now}
        window += 1
        start = (b - spike.k + 1) * spike.bucket
        if spike.fired is not None or not spike.over(window, base) or start - spike.nb * spike.bucket < spike.since:
            return None  # already fired for this crossing, under the threshold, or no full baseline yet
        assert rule.window is not None and rule.baseline is not None
        window_s, baseline_s = rule.window.total_seconds(), rule.baseline.total_seconds()
        expected = base * window_s / baseline_s
        figures = {"count": window, "window_seconds": window_s, "baseline_count": base,
                   "baseline_seconds": baseline_s, "expected": round(expected, 3), "factor": rule.factor}
        what = rule.entity or rule.query
        title = f"Spike: {window} items on {what} in {_span_text(window_s)} (expected {expected:.1f}): {item['title']}"
        spike.fired = _alert(rule, "spike", stamp(start), title, figures, now, item)
        dirty[state_key("s", rule.id)] = self._spike_record(spike, now)
        return spike.fired

    @staticmethod
    def _spike_record(spike: _Spike, now: float) -> dict[str, Any]:
        return {"since": spike.since, "fired": spike.fired, "bucket": spike.bucket, "w": now}

    def _prune_spike(self, spike: _Spike, b: int) -> None:
        oldest = b - spike.k - spike.nb + 1
        for old in [i for i in spike.counts if i < oldest]:
            del spike.counts[old]
            self.store.pop(state_key("s", spike.rule.id, old), None)

    def _new_entities(self, state: _NewEntity, item: dict[str, Any], again: bool, now: float,
                      dirty: dict[str, Any], alerts: list[Alert]) -> None:
        rule = state.rule
        wanted = set().union(*(ENTITY_TYPES[t] for t in rule.types)) if rule.types else None
        learning = now - state.since < rule.learn.total_seconds()
        for entity in item.get("entities", ()):
            if wanted is not None and entity["type"] not in wanted:
                continue
            name = normalize(entity["name"])
            if not name:
                continue
            written = state.written.get(name)
            if written is not None:
                if again and written.get("alerted") and written["item"] == item["id"]:
                    alerts.append(self._entity_alert(rule, entity, name, item, now))
                state.seen[name] = now
                state.seen.move_to_end(name)
                if now - written["w"] >= TOUCH_SECONDS:
                    written = state.written[name] = dict(written, seen=now, w=now)
                    dirty[state_key("n", rule.id, name)] = written
                continue
            record = {"seen": now, "item": item["id"], "alerted": not learning, "w": now}
            state.seen[name] = now
            state.written[name] = record
            dirty[state_key("n", rule.id, name)] = record
            if not learning:
                alerts.append(self._entity_alert(rule, entity, name, item, now))
            while len(state.seen) > rule.max_entities:  # least recently seen goes first
                old, _ = state.seen.popitem(last=False)
                state.written.pop(old, None)
                dirty.pop(state_key("n", rule.id, old), None)
                self.store.pop(state_key("n", rule.id, old), None)

    @staticmethod
    def _entity_alert(rule: Rule, entity: dict[str, Any], name: str, item: dict[str, Any], now: float) -> Alert:
        figures = {"entity": entity["name"], "type": entity["type"], "first_item": item["id"]}
        title = f"New entity {entity['name']} ({entity['type']}): {item['title']}"
        return _alert(rule, "new_entity", name, title, figures, now, item)

    def _prune_entities(self, state: _NewEntity, now: float) -> None:
        oldest = now - state.rule.forget.total_seconds()
        while state.seen and (next(iter(state.seen.values())) < oldest or len(state.seen) > state.rule.max_entities):
            old, _ = state.seen.popitem(last=False)
            state.written.pop(old, None)
            self.store.pop(state_key("n", state.rule.id, old), None)

    def _seen(self, silence: _Silence, item: dict[str, Any], now: float, dirty: dict[str, Any]) -> None:
        rule = silence.rule
        if rule.source and item["source"]["id"] != rule.source:
            return
        silence.record = dict(silence.record, last=now, item=_last_item(item), w=now)
        dirty[state_key("q", rule.id)] = silence.record

    # -- timers ---------------------------------------------------------
    def due_silences(self, now: float) -> list[Alert]:
        """The silence alerts due at ``now``, not yet marked (publish them, then :meth:`silences_sent`):
        a crash in between sends the same alert ids again, which the notifier drops."""
        if not self.active:
            return []
        self._load(now)
        alerts = []
        for silence in self._silences.values():
            record, rule = silence.record, silence.rule
            assert rule.silent_for is not None
            last = record["last"] if record["last"] is not None else record["since"]
            quiet = now - last
            if quiet <= rule.silent_for.total_seconds() or record.get("f") == stamp(last):
                continue
            what = f"from {rule.source}" if rule.source else f"matching {rule.query}"
            if rule.source and rule.query:
                what += f" matching {rule.query}"
            figures = {"last_seen": stamp(record["last"]) if record["last"] is not None else None,
                       "silent_seconds": round(quiet, 3), "for_seconds": rule.silent_for.total_seconds(),
                       "since": stamp(record["since"])}
            title = f"Silence: no items {what} for {_span_text(quiet)}"
            alerts.append(_alert(rule, "silence", stamp(last), title, figures, now, record["item"]))
        return alerts

    def silences_sent(self, alerts: Iterable[Alert], now: float) -> None:
        """Mark silences alerted (one alert a silence; an item arriving re-arms the rule)."""
        for alert in alerts:
            silence = self._silences.get(alert["rule"])
            if silence is None:
                continue
            silence.record = dict(silence.record, f=alert["id"].rsplit(":silence:", 1)[1], w=now)
            self.store[state_key("q", alert["rule"])] = silence.record

    def maintain(self, now: float, *, force: bool = False) -> int:
        """Prune expired state and write again what was not written for :data:`REWRITE_SECONDS`
        (so the Faust table's purge of old changelog entries keeps it); at most every
        :data:`MAINTAIN_SECONDS` unless ``force``. Returns how many keys were written."""
        if not self.active or (not force and now - self._maintained < MAINTAIN_SECONDS):
            return 0
        self._maintained = now
        self._load(now)
        stale = now - REWRITE_SECONDS
        writes: dict[str, Any] = {}
        for spike in self._spikes.values():
            self._prune_spike(spike, int(now // spike.bucket))
            for b, n in spike.counts.items():  # live buckets were written within the window + baseline
                key = state_key("s", spike.rule.id, b)
                value = self.store.get(key)
                if value is not None and value["w"] < stale:
                    writes[key] = {"n": n, "w": now}
            record = self.store.get(state_key("s", spike.rule.id))
            if record is not None and record["w"] < stale:
                writes[state_key("s", spike.rule.id)] = self._spike_record(spike, now)
        for state in self._entities.values():
            self._prune_entities(state, now)
            record = self.store.get(state_key("n", state.rule.id))
            if record is not None and record["w"] < stale:
                writes[state_key("n", state.rule.id)] = dict(record, w=now)
            for name, written in list(state.written.items()):
                if written["w"] < stale:
                    written = state.written[name] = dict(written, seen=state.seen.get(name, written["seen"]), w=now)
                    writes[state_key("n", state.rule.id, name)] = written
        for silence in self._silences.values():
            if silence.record["w"] < stale:
                silence.record = dict(silence.record, w=now)
                writes[state_key("q", silence.rule.id)] = silence.record
        for key, value in writes.items():
            self.store[key] = value
        return len(writes)

    def entity_count(self, rule_id: str) -> int:
        """How many entities a new_entity rule remembers (bounded by its ``max_entities``)."""
        state = self._entities.get(rule_id)
        return len(state.seen) if state is not None else 0
