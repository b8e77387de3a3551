"""Alert rules (``rules.yaml``) and the indexed matcher that runs them on every item.

Each rule's Lucene query is parsed when the file is loaded
(:mod:`wirewatch.search.query`; a bad query fails the load, naming the rule),
but only its anchors and required words are kept: its tree of small closures
is compiled the first time the rule is evaluated (most rules of a big file
never are, or only much later). Matching stays fast with thousands of rules
because a rule is only evaluated when the item holds one of its *anchors*: a
set of terms (or prefixes) at least one of which any matching item must
contain. An inverted index anchor -> rules yields the candidates; rules that
can match without any positive term (``-sport``) are always candidates. After
the first items a rule set re-anchors rules on their rarest required word (see
:class:`RuleSet`), and a candidate is only evaluated when the item holds the
title/body words it requires.
:meth:`RuleSet.match_naive` evaluates every rule and is the oracle the tests
compare against.

Matching follows Elasticsearch exactly: the same normalised fields
(:func:`wirewatch.search.analysis.search_fields`), the default fields
title and body searched separately for phrases, 100 positions between the
values of list fields, Lucene's sloppy phrase distance.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wirewatch.core.config import Duration, load_yaml, unique_ids
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import get_logger
from wirewatch.core.schedule import DigestConfig, MuteWindows, muted_until
from wirewatch.core.times import parse_rfc3339, rfc3339
from wirewatch.search.matcher import (
    Anchors,
    FactsAnalyser,
    MatchDocument,
    Matcher,
    QueryFacts,
    compile_query,
)
from wirewatch.search.query import QuerySyntaxError, character_split_words

log = get_logger("rules")

#: Prefix anchors are indexed by at most this many leading characters.
_PREFIX_KEY = 3


RuleKind = Literal["query", "spike", "new_entity", "silence"]
EntityKind = Literal["person", "organisation", "place"]
#: The longest span a signal rule may keep counts for: the dedupe memory's window, after which
#: the Faust table's changelog entries are purged (``faust_app.BatchLog.purge``).
SIGNAL_SPAN = timedelta(hours=72)
#: Fields each signal kind may set (beyond id, query, notify, throttle).
_KIND_FIELDS: dict[str, frozenset[str]] = {
    "query": frozenset({"on_update", "per", "re_alert"}),
    "spike": frozenset({"entity", "window", "baseline", "min_count", "factor"}),
    "new_entity": frozenset({"types", "learn", "forget", "max_entities"}),
    "silence": frozenset({"source", "silent_for"}),
}


def _span(span: timedelta) -> str:
    """A duration as rules.yaml writes it (``90s``, ``10m``, ``24h``)."""
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class Rule(BaseModel):
    """One watch rule as written in ``rules.yaml``.

    ``kind: query`` (the default) alerts on each matching story; ``spike``, ``new_entity``
    and ``silence`` are signal rules (:mod:`wirewatch.processors.signals`) with their own fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    kind: RuleKind = "query"
    query: str | None = None
    notify: list[str] = []
    throttle: Duration | None = None
    on_update: bool = Field(False, description="notify again for updates of an alerted story")
    per: Literal["item", "story", "event"] = Field(
        "story", description="alert once per item, per story (syndicated copies fold in) or per event (outlets fold in)")
    re_alert: Duration | None = Field(
        None, description="alert again for a match longer than this after the last alert of the same unit")
    digest: DigestConfig | None = Field(None, description="send this rule's alerts as one digest a period")
    mute: MuteWindows = Field((), description="windows in which its alerts are held back")
    # kind: spike
    entity: str | None = Field(None, min_length=1, description="count mentions of this entity")
    window: Duration | None = None
    baseline: Duration | None = None
    min_count: int = Field(5, ge=1)
    factor: float = Field(3.0, gt=0)
    # kind: new_entity
    types: list[EntityKind] | None = None
    learn: Duration = timedelta(hours=24)
    forget: Duration = timedelta(days=90)
    max_entities: int = Field(100_000, ge=1)
    # kind: silence
    source: str | None = Field(None, min_length=1)
    silent_for: Duration | None = Field(None, alias="for")

    @model_validator(mode="after")
    def _kind_fields(self) -> Rule:
        kind = self.kind
        for name in sorted(self.model_fields_set - {"id", "kind", "query", "notify", "throttle", "digest", "mute"}):
            owner = next((k for k, names in _KIND_FIELDS.items() if name in names), None)
            if owner is not None and name not in _KIND_FIELDS[kind]:
                shown = "for" if name == "silent_for" else name
                raise ValueError(f"{shown} is for kind {owner} rules, not kind {kind}")
        if kind in ("query", "new_entity") and not self.query:
            raise ValueError(f"a kind {kind} rule needs a query")
        if kind == "spike":
            if not (self.query or self.entity):
                raise ValueError("a spike rule needs an entity or a query to count")
            if self.window is None or self.window.total_seconds() <= 0:
                raise ValueError("a spike rule needs a window (e.g. window: 1h)")
            if self.baseline is None:
                raise ValueError("a spike rule needs a baseline to compare its window with (e.g. baseline: 24h)")
            if self.baseline <= self.window:
                raise ValueError(f"baseline ({_span(self.baseline)}) must be longer than window ({_span(self.window)})")
            if self.window + self.baseline > SIGNAL_SPAN:
                raise ValueError(f"window + baseline must be at most {SIGNAL_SPAN.total_seconds() / 3600:g}h "
                                 "(how long the dedupe memory keeps its changelog)")
        if kind == "silence":
            if not (self.source or self.query):
                raise ValueError("a silence rule needs a source or a query to watch")
            if self.silent_for is None or self.silent_for.total_seconds() <= 0:
                raise ValueError("a silence rule needs for: (how long without items, e.g. for: 2h)")
        return self

    @property
    def match_query(self) -> str | None:
        """What the rule matches items with (a spike's ``entity`` as an ``entity:`` phrase); None
        for a silence rule that watches a source only."""
        if self.kind == "spike" and self.entity:
            phrase = 'entity:"' + self.entity.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return f"({self.query}) AND {phrase}" if self.query else phrase
        return self.query

    def alert_marks(self, matched_at: str) -> dict[str, Any]:
        """What an alert of this rule carries for the notifier: its digest, and ``muted`` when
        ``matched_at`` falls in one of the rule's mute windows (the alert is still stored)."""
        marks: dict[str, Any] = {}
        if self.digest is not None:
            marks["digest"] = self.digest.as_alert()
        if self.mute:
            until = muted_until(self.mute, parse_rfc3339(matched_at))
            if until is not None:
                marks["muted"] = {"by": "rule", "name": self.id, "until": rfc3339(until)}
        return marks


class RulesConfig(BaseModel):
    """The whole ``rules.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        return unique_ids(rules, "rule")



# -------------------------------------------------------------------- rule set

#: The facts of a rule with no query: no anchors, so never a candidate.
_NO_FACTS = QueryFacts(Anchors(frozenset(), frozenset()), frozenset(), frozenset())


def _never(doc: MatchDocument) -> bool:
    return False


#: [rule index, required title/body words, matcher]; a list so that a rule's first call can swap
#: its lazy matcher for the compiled one in every index list sharing the posting.
_Posting = list[Any]
#: Items a rule set counts words in before it re-anchors rules on their rarest required word.
LEARN_ITEMS = 500


class _LazyMatcher:
    """A rule's matcher until its first call, which compiles the real one into the rule's posting.

    One small object a rule (a partial of a bound method was two, both tracked by the GC).
    """

    __slots__ = ("idx", "rules")

    def __init__(self, rules: RuleSet, idx: int) -> None:
        self.rules = rules
        self.idx = idx

    def __call__(self, doc: MatchDocument) -> bool:
        return self.rules._matcher(self.idx)(doc)


@dataclass(frozen=True)
class _TokenIndex:
    """anchor token -> rules, swapped as a whole when rules are re-anchored.

    ``groups`` is what an item's title and body walk: per anchor, the rules needing no
    other title/body word, and the others keyed by a second word they need. An item
    then meets only the groups whose second word it holds (one set intersection in C),
    not every rule on the anchor (most of which would fail their required words).
    """

    by_token: dict[str, list[int]]
    postings: dict[str, list[_Posting]]
    anchors: frozenset[str]
    groups: dict[str, tuple[list[_Posting], dict[str, list[_Posting]]]]


class RuleSet:
    """Rules compiled and indexed by their anchors.

    A rule's first anchors come from its query alone (the longest word, which
    is often a common topic word). After :data:`LEARN_ITEMS` items the set knows
    how often each query word occurs and re-anchors every rule that needs
    certain words on the rarest of them: fewer candidates per item, the same
    matches (any required word is a valid anchor).
    """

    def __init__(self, rules: list[Rule], facts: list[QueryFacts]) -> None:
        self.rules = rules
        self._anchors = [f.anchors for f in facts]  # shared objects (FactsAnalyser); no tuple a rule
        self._required = [f.required for f in facts]
        self._always: list[int] = []
        self._by_prefix: dict[str, list[int]] = {}  # first <= 3 chars of a prefix anchor
        by_token: dict[str, list[int]] = {}
        for idx, fact in enumerate(facts):
            anchors = fact.anchors
            if anchors is None:
                self._always.append(idx)
                continue
            for token in anchors.tokens:
                by_token.setdefault(token, []).append(idx)
            for prefix in anchors.prefixes:
                self._by_prefix.setdefault(prefix[:_PREFIX_KEY], []).append(idx)
        self._prefix_lengths = sorted({len(k) for k in self._by_prefix})
        # what match() walks: each posting carries what it needs, no lookups by index.
        # lazy compile: 100k rules' matchers cost 1.8 s and 175 MB at load (bench rules.startup_s_100k);
        # tests/processors/test_rules_index.py::test_lazily_compiled_rules_match_as_compiled_ones
        self._postings: list[_Posting] = [
            [idx, f.required_in_text, _LazyMatcher(self, idx)] for idx, f in enumerate(facts)
        ]
        self._always_postings = [self._postings[i] for i in self._always]
        self._prefix_postings = {k: [self._postings[i] for i in ids] for k, ids in self._by_prefix.items()}
        self._index = self._token_index(by_token)
        self._vocabulary = frozenset(by_token).union(*self._required)
        self._counts: Counter[str] | None = Counter() if self._vocabulary else None
        self._counted = 0

    def compiled_count(self) -> int:
        """How many rules have their matcher compiled (those evaluated at least once)."""
        return sum(not isinstance(p[2], _LazyMatcher) for p in self._postings)

    def _matcher(self, idx: int) -> Matcher:
        posting = self._postings[idx]
        matches: Matcher = posting[2]
        if isinstance(matches, _LazyMatcher):  # parsed once at load already: cannot fail here
            query = self.rules[idx].match_query
            matches = posting[2] = compile_query(query).matches if query is not None else _never
        return matches

    def _token_index(self, by_token: dict[str, list[int]], counts: Mapping[str, int] | None = None) -> _TokenIndex:
        postings = {t: [self._postings[i] for i in ids] for t, ids in by_token.items()}
        groups: dict[str, tuple[list[_Posting], dict[str, list[_Posting]]]] = {}
        seen = counts or {}
        for token, listed in postings.items():
            alone: list[_Posting] = []
            by_second: dict[str, list[_Posting]] = {}
            for posting in listed:
                rest = posting[1] - {token}
                if not rest:
                    alone.append(posting)
                else:  # the rarest other word when counted, else the longest
                    second = min(rest, key=lambda w: (seen.get(w, 0), -len(w), w))
                    by_second.setdefault(second, []).append(posting)
            groups[token] = (alone, by_second)
        return _TokenIndex(by_token, postings, frozenset(by_token), groups)

    @property
    def _by_token(self) -> dict[str, list[int]]:
        return self._index.by_token

    def _learn(self, doc: MatchDocument) -> None:
        """Count query words in the first items, then re-anchor once."""
        counts = self._counts
        if counts is None:
            return
        counts.update(doc.tokens & self._vocabulary)
        self._counted += 1
        if self._counted >= LEARN_ITEMS:
            self._counts = None
            self._index = self._token_index(self._rarest_anchors(counts), counts)

    def _rarest_anchors(self, counts: Counter[str]) -> dict[str, list[int]]:
        """Per rule, its token anchors or, when rarer in the items seen, one required word."""
        chosen: dict[int, frozenset[str]] = {}
        for idx, anchors in enumerate(self._anchors):
            if anchors is None or not anchors.tokens:
                continue
            best = anchors.tokens
            if not anchors.prefixes:  # a rule also reached by prefix keeps its anchors
                cost = sum(counts[t] for t in best)
                for token in sorted(self._required[idx]):
                    if counts[token] < cost:
                        best, cost = frozenset((token,)), counts[token]
            chosen[idx] = best
        by_token: dict[str, list[int]] = {}
        for idx, tokens in chosen.items():  # ascending idx: postings stay in file order
            for token in tokens:
                by_token.setdefault(token, []).append(idx)
        return by_token

    @classmethod
    def from_rules(cls, rules: Iterable[Rule], where: str = "") -> RuleSet:
        """Parse every rule; a bad query is a :class:`ConfigError` naming the rule.

        Only what the index needs is kept (anchors, required words); a rule's matcher
        is compiled the first time the rule is evaluated.
        """
        rules = list(rules)
        analyser = FactsAnalyser()
        facts = []
        with _no_gc():
            for i, rule in enumerate(rules):
                query = rule.match_query
                if query is None:  # a silence rule on a source: never a candidate
                    facts.append(_NO_FACTS)
                    continue
                try:
                    facts.append(analyser.facts(query))
                except QuerySyntaxError as exc:
                    raise ConfigError(
                        f"{where}: rules[{i}] ({rule.id}).query" if where else f"rules[{i}] ({rule.id}).query",
                        str(exc),
                    ) from None
                for word in character_split_words(query):
                    log.warning(
                        f"rule {rule.id}: {word.text} matches any one of {' '.join(word.tokens)} (as in Elasticsearch);"
                        f' write "{word.text}" to match the word', rule=rule.id,
                    )
            return cls(rules, facts)

    def __len__(self) -> int:
        return len(self.rules)

    def _prefix_keys(self, tokens: AbstractSet[str]) -> list[str]:
        """Prefix-anchor keys that some token of the item starts with."""
        keys: list[str] = []
        by_prefix = self._by_prefix
        for n in self._prefix_lengths:
            keys.extend({t[:n] for t in tokens if len(t) >= n} & by_prefix.keys())
        return keys

    def candidates(self, doc: MatchDocument) -> list[int]:
        """Indices of the rules that might match ``doc`` (a superset of those that do)."""
        found = set(self._always)
        index = self._index
        for token in doc.tokens & index.anchors:
            found.update(index.by_token[token])
        if self._by_prefix:
            for key in self._prefix_keys(doc.tokens):
                found.update(self._by_prefix[key])
        return sorted(found)

    def match(self, doc: MatchDocument) -> list[Rule]:
        """The rules ``doc`` matches, in file order; only candidate rules are evaluated.

        Candidates come from the title-and-body set first, then from the few
        other tokens; a candidate must hold its required title/body words before
        it is evaluated. Candidates are not sorted, only the few hits are (a rule
        reached through two anchors is evaluated twice, cheaper than
        de-duplicating every candidate).
        """
        if self._counts is not None:
            self._learn(doc)
        index = self._index
        text, anchors, token_postings, groups = doc.sets[None], index.anchors, index.postings, index.groups
        hits = [i for i, _required, matches in self._always_postings if matches(doc)]
        for token in text & anchors:
            alone, by_second = groups[token]
            for i, _required, matches in alone:  # the anchor is all they need from title/body
                if matches(doc):
                    hits.append(i)
            if by_second:
                for second in by_second.keys() & text:
                    for i, required, matches in by_second[second]:
                        if required <= text and matches(doc):
                            hits.append(i)
        side = doc.side_tokens()
        if side:
            for token in (side & anchors) - text:
                for i, required, matches in token_postings[token]:
                    if required <= text and matches(doc):
                        hits.append(i)
        if self._prefix_postings:
            for key in self._prefix_keys(doc.tokens):
                for i, required, matches in self._prefix_postings[key]:
                    if required <= text and matches(doc):
                        hits.append(i)
        if not hits:
            return []
        rules = self.rules
        return [rules[i] for i in sorted(set(hits))]

    def match_naive(self, doc: MatchDocument) -> list[Rule]:
        """Every rule evaluated: the oracle for :meth:`match` and the benchmark baseline."""
        return [rule for idx, rule in enumerate(self.rules) if self._matcher(idx)(doc)]


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic GC while a rule file is read: it would re-walk the growing heap of rules.

    gc off while loading: 100k rules 12.5 -> 8.3 s to compile and index (bench rules.startup_s_100k);
    what a load allocates is kept, not garbage; tests/processors/test_rules.py::test_loading_rules_leaves_gc_as_it_was.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: Line breaks to YAML 1.1 inside a quoted string (folded: "a\x85b" reads "a b").
_YAML_BREAKS = re.compile("[\x85\u2028\u2029]")


class _NotPlainJson(Exception):
    """The text is valid JSON that the YAML loader might read differently (a float)."""


def _reject(_text: str) -> Any:
    raise _NotPlainJson


def _as_json(text: str) -> dict[str, Any] | None:
    """``text`` read as JSON when the YAML loader would read it the same way, else None.

    YAML is a JSON superset, and rule files written by tools (and the bench's) are JSON:
    json.loads reads 100,000 rules in 0.06 s where the YAML loader takes 4-10 s (bench
    rules.startup_s_100k; tests/processors/test_rules.py::test_json_rules_file_reads_as_yaml_does). Left to the
    YAML loader: floats and NaN (``1e5`` is a string in YAML 1.1), surrogate escapes, tabs,
    characters YAML rejects or reads as line breaks, anything that is not an object.
    """
    if not text.lstrip(" \r\n").startswith("{") or "\t" in text or "\\ud" in text.lower():
        return None
    if yaml.reader.Reader.NON_PRINTABLE.search(text) or _YAML_BREAKS.search(text):
        return None
    try:
        data = json.loads(text, parse_float=_reject, parse_constant=_reject)
    except (ValueError, _NotPlainJson):
        return None
    return data if isinstance(data, dict) else None


def load_rules(path: Path | str) -> RuleSet:
    """Read ``rules.yaml``; any problem is one :class:`ConfigError` line naming the rule."""
    with _no_gc():
        config = _read_config(Path(path))
    return RuleSet.from_rules(config.rules, where=str(path))


def _read_config(path: Path) -> RulesConfig:
    """JSON-shaped files through json.loads; everything else, and every error, through load_yaml."""
    try:
        data = _as_json(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        data = None
    if data is not None:
        try:
            return RulesConfig.model_validate(data)
        except ValidationError:
            pass  # load_yaml words the error (one line, the rule's location)
    return load_yaml(path, RulesConfig)
