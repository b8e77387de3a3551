"""Alert rules (``rules.yaml``) and the indexed matcher that runs them on every item.

Each rule's Lucene query is parsed once (:mod:`wirewatch.processors.query`)
into a tree of small closures. Matching stays fast with thousands of rules
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
(:func:`wirewatch.processors.analysis.search_fields`), the default fields
title and body searched separately for phrases, 100 positions between the
values of list fields, Lucene's sloppy phrase distance.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wirewatch.core.config import Duration, load_yaml
from wirewatch.core.errors import ConfigError
from wirewatch.processors.analysis import shared_search_tokens
from wirewatch.processors.query import (
    DEFAULT_FIELDS,
    BooleanNode,
    Node,
    Occur,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Term,
    Wildcard,
    parse,
)

#: Elasticsearch's ``position_increment_gap`` for text fields.
POSITION_GAP = 100
#: Prefix anchors are indexed by at most this many leading characters.
_PREFIX_KEY = 3


class Rule(BaseModel):
    """One watch rule as written in ``rules.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    query: str
    notify: list[str] = []
    throttle: Duration | None = None
    on_update: bool = Field(False, description="notify again for updates of an alerted story")


class RulesConfig(BaseModel):
    """The whole ``rules.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return rules


# ------------------------------------------------------------------ documents

_NO_TOKENS: frozenset[str] = frozenset()
_DEFAULT = frozenset(DEFAULT_FIELDS)


class FieldSets(dict[str | None, AbstractSet[str]]):
    """field -> set of its tokens; key None: the default fields (title and body) together.

    Only the None set is built up front (nearly every rule needs it); a field's
    own set is built the first time it is asked for, and an unknown field has
    no tokens.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, list[list[str]]]) -> None:
        super().__init__()
        self._values = values

    def __missing__(self, field: str | None) -> AbstractSet[str]:
        values = self._values.get(field) if field is not None else None
        if values is None:
            return _NO_TOKENS
        found = self[field] = set(values[0]) if len(values) == 1 else set().union(*values)
        return found

    def get(self, field: str | None, default: Any = None) -> Any:  # type: ignore[override]
        return self[field] if field in self or field in self._values else default


class MatchDocument:
    """An item prepared once for matching: token sets per field, texts and positions on demand.

    Most rules are decided by lookups in one set (the tokens of title and
    body), so only that set is built up front. Other fields' sets, the union
    of all fields (:attr:`tokens`), each field's normalised text padded with
    spaces (an exact phrase is then a substring test) and the positions of the
    words a sloppy phrase needs are built the first time they are needed.
    """

    __slots__ = ("_positions", "_side", "_sorted", "_texts", "_tokens", "_values", "sets")

    def __init__(self, values: Mapping[str, list[list[str]]]) -> None:
        self._values = values
        self._texts: dict[str, list[str]] = {}
        self._positions: dict[tuple[str, str], list[int]] = {}
        self._sorted: dict[str | None, list[str]] = {}
        self._tokens: AbstractSet[str] | None = None
        self._side: AbstractSet[str] | None = None
        #: field -> set of its tokens; key None: the default fields (title and body)
        self.sets = sets = FieldSets(values)
        body = values.get("body")
        default: set[str] = set(body[0]) if body and len(body) == 1 else set().union(*(body or ()))
        size = len(default)
        for value in values.get("title", ()):
            default.update(value)
        if body is not None and len(default) == size:  # the title adds no word: same set
            sets["body"] = default
        sets[None] = default

    @property
    def tokens(self) -> AbstractSet[str]:
        """Every token of the item, whatever the field."""
        if self._tokens is None:
            side = self.side_tokens()
            default = self.sets[None]
            self._tokens = default | side if side else default
        return self._tokens

    def side_tokens(self) -> AbstractSet[str]:
        """Tokens of the fields other than title and body (source, entity, tags, language)."""
        if self._side is None:
            self._side = set().union(*(
                value for name, values in self._values.items() if name not in _DEFAULT for value in values
            ))
        return self._side

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> MatchDocument:
        """From already normalised fields, e.g. :func:`search_fields` output kept in a store."""
        return cls({
            name: [v.split() for v in (value if isinstance(value, list) else [value])]
            for name, value in fields.items()
        })

    @property
    def texts(self) -> dict[str, list[str]]:
        """field -> one " padded normalised text " per value (every field built)."""
        return {name: self._field_texts(name) for name in self._values}

    def _field_texts(self, field: str) -> list[str]:
        texts = self._texts.get(field)
        if texts is None:
            texts = self._texts[field] = [f" {' '.join(v)} " for v in self._values.get(field, ())]
        return texts

    def has_phrase(self, field: str, words: str) -> bool:
        """Do the space-separated ``words`` occur next to each other in one value of ``field``?"""
        needle = f" {words} "
        return any(needle in text for text in self._field_texts(field))

    def positions(self, field: str, token: str) -> list[int]:
        """Ascending positions of ``token`` in ``field``, as Lucene numbers them
        (``POSITION_GAP`` extra positions between two values of a list field)."""
        key = (field, token)
        found = self._positions.get(key)
        if found is None:
            found = []
            needle, base = f" {token} ", 0
            texts = self._field_texts(field)
            for n, text in enumerate(texts, 1):
                at, counted, words = text.find(needle), 1, 0
                while at >= 0:  # words before ``at``, counted on from the previous hit
                    words += text.count(" ", counted, at + 1)
                    counted = at + 1
                    found.append(base + words)
                    at = text.find(needle, at + len(token) + 1)
                if n < len(texts):  # the next value starts after this one's words and the gap
                    base += text.count(" ") - 1 + POSITION_GAP
            self._positions[key] = found
        return found

    def sorted_tokens(self, field: str | None) -> list[str]:
        cached = self._sorted.get(field)
        if cached is None:
            cached = self._sorted[field] = sorted(self.sets[field])
        return cached

    def with_prefix(self, field: str | None, prefix: str) -> list[str]:
        """Tokens of ``field`` starting with ``prefix``."""
        tokens = self.sorted_tokens(field)
        out = []
        for i in range(bisect_left(tokens, prefix), len(tokens)):
            if not tokens[i].startswith(prefix):
                break
            out.append(tokens[i])
        return out


def prepare(item: Mapping[str, Any]) -> MatchDocument:
    """Prepare a raw or processed item (``entities`` optional) for matching."""
    return MatchDocument(shared_search_tokens(item))


# ------------------------------------------------------------------ compiling

Matcher = Callable[[MatchDocument], bool]


def _phrase_in(doc: MatchDocument, field: str, tokens: tuple[str, ...], slop: int) -> bool:
    """Lucene sloppy phrase: one position per query token, distinct positions,
    and max(position - offset) - min(position - offset) <= slop."""
    pos = {t: doc.positions(field, t) for t in tokens}
    offsets: dict[str, list[int]] = {}
    for i, t in enumerate(tokens):
        offsets.setdefault(t, []).append(i)
    for lo in sorted({p - i for i, t in enumerate(tokens) for p in pos[t]}):
        if all(_assign(pos[t], offs, lo, lo + slop) for t, offs in offsets.items()):
            return True
    return False


def _assign(positions: list[int], offsets: list[int], lo: int, hi: int) -> bool:
    """Can each query offset i get its own position in [lo + i, hi + i]? (greedy is exact:
    the intervals have equal length, so sorted by start they are sorted by end)."""
    j = 0
    for i in offsets:
        j = max(j, bisect_left(positions, lo + i))
        if j >= len(positions) or positions[j] > hi + i:
            return False
        j += 1
    return True


def _compile(node: Node) -> Matcher:
    if isinstance(node, Term) or (isinstance(node, Phrase) and len(node.tokens) == 1):
        field, tokens = node.field, node.tokens
        if len(tokens) == 1:
            token = tokens[0]
            return lambda d: token in d.sets[field]
        anyof = frozenset(tokens)
        return lambda d: not anyof.isdisjoint(d.sets[field])
    if isinstance(node, Phrase):
        return _compile_phrase(node)
    if isinstance(node, Prefix):
        pfield, prefix = node.field, node.prefix
        return lambda d: bool(d.with_prefix(pfield, prefix))
    if isinstance(node, Wildcard):
        wfield, literal = node.field, node.literal_prefix
        regex = re.compile("".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in node.pattern
        ))
        return lambda d: any(regex.fullmatch(t) for t in d.with_prefix(wfield, literal))
    return _compile_bool(node)


def _compile_phrase(node: Phrase) -> Matcher:
    """A phrase is found in the text of one field; first a set test that every word is there.

    The set test needs no per-field set for title and body: their shared set
    (key None) rules out most items, the text test decides per field.
    """
    fields = DEFAULT_FIELDS if node.field is None else (node.field,)
    tokens, slop, needed, words = node.tokens, node.slop, frozenset(node.tokens), " ".join(node.tokens)
    where = None if set(fields) <= _DEFAULT else node.field

    def match(d: MatchDocument) -> bool:
        if not needed <= d.sets[where]:
            return False
        for field in fields:
            if _phrase_in(d, field, tokens, slop) if slop else d.has_phrase(field, words):
                return True
        return False

    return match


def _term_tokens(node: Node) -> tuple[str | None, tuple[str, ...]] | None:
    """(field, tokens) of a clause that is a plain term test (any of its tokens in the field)."""
    if isinstance(node, Term) or (isinstance(node, Phrase) and len(node.tokens) == 1):
        return node.field, tuple(node.tokens)
    return None


def _merged_terms(clauses: list[Node], merge: Callable[[str | None, frozenset[str]], Matcher],
                  single_only: bool) -> tuple[list[Matcher], list[Node]]:
    """Term clauses of one occurrence merged into one set test per field, and the other clauses.

    ``single_only``: only one-token terms merge (MUST: a multi-token term needs one of
    its tokens, which a subset test can't express)."""
    by_field: dict[str | None, set[str]] = {}
    rest: list[Node] = []
    for node in clauses:
        term = _term_tokens(node)
        if term is None or (single_only and len(term[1]) != 1):
            rest.append(node)
        else:
            by_field.setdefault(term[0], set()).update(term[1])
    return [merge(field, frozenset(tokens)) for field, tokens in by_field.items()], rest


def _all_of(field: str | None, tokens: frozenset[str]) -> Matcher:
    return lambda d: tokens <= d.sets[field]


def _any_of(field: str | None, tokens: frozenset[str]) -> Matcher:
    return lambda d: not tokens.isdisjoint(d.sets[field])


def _compile_bool(node: BooleanNode) -> Matcher:
    """Term clauses become one set test per field and occurrence (the common rule is a
    handful of words ANDed), the rest recursive matchers; cheap tests run first."""
    by_occur: dict[Occur, list[Node]] = {occur: [] for occur in Occur}
    for clause in node.clauses:
        by_occur[clause.occur].append(clause.node)
    has_must, has_should = bool(by_occur[Occur.MUST]), bool(by_occur[Occur.SHOULD])
    must, must_rest = _merged_terms(by_occur[Occur.MUST], _all_of, single_only=True)
    must_not, not_rest = _merged_terms(by_occur[Occur.MUST_NOT], _any_of, single_only=False)
    should, should_rest = _merged_terms(by_occur[Occur.SHOULD], _any_of, single_only=False)
    must += [_compile(n) for n in must_rest]
    must_not += [_compile(n) for n in not_rest]
    should += [_compile(n) for n in should_rest]

    if has_must or not has_should:  # SHOULD is optional beside MUST; only-MUST_NOT matches the rest
        if len(must) == 1 and not must_not:
            return must[0]

        def match_required(d: MatchDocument) -> bool:
            for m in must:
                if not m(d):
                    return False
            for m in must_not:  # noqa: SIM110 (a loop: no generator object per call on the hot path)
                if m(d):
                    return False
            return True

        return match_required

    if len(should) == 1 and not must_not:
        return should[0]

    def match_optional(d: MatchDocument) -> bool:
        for m in must_not:
            if m(d):
                return False
        for m in should:  # noqa: SIM110 (as above)
            if m(d):
                return True
        return False

    return match_optional


@dataclass(frozen=True)
class Anchors:
    """An item can only match if it holds one of ``tokens`` or a token starting with
    one of ``prefixes`` (in any field)."""

    tokens: frozenset[str]
    prefixes: frozenset[str]

    @property
    def cost(self) -> tuple[int, int]:
        shortest = min((len(a) for a in self.tokens | self.prefixes), default=0)
        return (len(self.tokens) + 4 * len(self.prefixes), -shortest)


def anchors_of(node: Node) -> Anchors | None:
    """Anchors of ``node``, or None when it can match an item without any positive term."""
    empty: frozenset[str] = frozenset()
    if isinstance(node, Term):
        return Anchors(frozenset(node.tokens), empty)
    if isinstance(node, Phrase):  # every token is needed: the longest is likely the rarest
        return Anchors(frozenset({max(node.tokens, key=len)}), empty)
    if isinstance(node, Prefix):
        return Anchors(empty, frozenset({node.prefix}))
    if isinstance(node, Wildcard):
        return Anchors(empty, frozenset({node.literal_prefix}))
    if any(c.occur is Occur.MUST for c in node.clauses):
        musts = [anchors_of(c.node) for c in node.clauses if c.occur is Occur.MUST]
        known = [a for a in musts if a is not None]
        return min(known, key=lambda a: a.cost) if known else None
    shoulds = [anchors_of(c.node) for c in node.clauses if c.occur is Occur.SHOULD]
    if not shoulds or any(a is None for a in shoulds):
        return None
    return Anchors(
        frozenset().union(*(a.tokens for a in shoulds if a)),
        frozenset().union(*(a.prefixes for a in shoulds if a)),
    )


def required_of(node: Node) -> frozenset[str]:
    """Tokens every matching item contains (somewhere): a cheap subset test before evaluating."""
    if isinstance(node, Term):
        return frozenset(node.tokens) if len(node.tokens) == 1 else frozenset()
    if isinstance(node, Phrase):
        return frozenset(node.tokens)
    if isinstance(node, Prefix | Wildcard):
        return frozenset()
    musts = [required_of(c.node) for c in node.clauses if c.occur is Occur.MUST]
    if musts:
        return frozenset().union(*musts)
    shoulds = [required_of(c.node) for c in node.clauses if c.occur is Occur.SHOULD]
    return frozenset.intersection(*shoulds) if shoulds else frozenset()


def required_in_text_of(node: Node) -> frozenset[str]:
    """Tokens every matching item has in its title or body: :func:`required_of` restricted
    to the default fields, so the matcher can test them against one set."""
    if isinstance(node, Term | Phrase):
        if node.field is not None and node.field not in _DEFAULT:
            return frozenset()
        return required_of(node)
    if isinstance(node, Prefix | Wildcard):
        return frozenset()
    musts = [required_in_text_of(c.node) for c in node.clauses if c.occur is Occur.MUST]
    if musts:
        return frozenset().union(*musts)
    shoulds = [required_in_text_of(c.node) for c in node.clauses if c.occur is Occur.SHOULD]
    return frozenset.intersection(*shoulds) if shoulds else frozenset()


class CompiledQuery:
    """A parsed query ready to test items: ``compile_query(q).matches(prepare(item))``."""

    __slots__ = ("anchors", "matches", "node", "query", "required")

    def __init__(self, query: str) -> None:
        self.query = query
        self.node: Node = parse(query)
        self.matches: Matcher = _compile(self.node)
        self.anchors: Anchors | None = anchors_of(self.node)
        self.required: frozenset[str] = required_of(self.node)


def compile_query(query: str) -> CompiledQuery:
    """Parse and compile; raises :class:`QuerySyntaxError` with position and reason."""
    return CompiledQuery(query)


# -------------------------------------------------------------------- rule set

_Posting = tuple[int, frozenset[str], Matcher]  # rule index, required title/body words, matcher
#: Items a rule set counts words in before it re-anchors rules on their rarest required word.
LEARN_ITEMS = 500


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

    def __init__(self, rules: list[Rule], compiled: list[CompiledQuery]) -> None:
        self.rules = rules
        self._compiled = compiled
        self._required = [q.required for q in compiled]
        self._always: list[int] = []
        self._by_prefix: dict[str, list[int]] = {}  # first <= 3 chars of a prefix anchor
        by_token: dict[str, list[int]] = {}
        for idx, query in enumerate(compiled):
            anchors = query.anchors
            if anchors is None:
                self._always.append(idx)
                continue
            for token in anchors.tokens:
                by_token.setdefault(token, []).append(idx)
            for prefix in anchors.prefixes:
                self._by_prefix.setdefault(prefix[:_PREFIX_KEY], []).append(idx)
        self._prefix_lengths = sorted({len(k) for k in self._by_prefix})
        # what match() walks: each posting carries what it needs, no lookups by index
        self._postings: list[_Posting] = [
            (idx, required_in_text_of(q.node), q.matches) for idx, q in enumerate(compiled)
        ]
        self._always_postings = [self._postings[i] for i in self._always]
        self._prefix_postings = {k: [self._postings[i] for i in ids] for k, ids in self._by_prefix.items()}
        self._index = self._token_index(by_token)
        self._vocabulary = frozenset(by_token).union(*self._required)
        self._counts: Counter[str] | None = Counter() if self._vocabulary else None
        self._counted = 0

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
        for idx, query in enumerate(self._compiled):
            anchors = query.anchors
            if anchors is None or not anchors.tokens:
                continue
            best = anchors.tokens
            if not anchors.prefixes:  # a rule also reached by prefix keeps its anchors
                cost = sum(counts[t] for t in best)
                for token in sorted(query.required):
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
        """Compile every rule; a bad query is a :class:`ConfigError` naming the rule."""
        rules = list(rules)
        compiled = []
        for i, rule in enumerate(rules):
            try:
                compiled.append(compile_query(rule.query))
            except QuerySyntaxError as exc:
                raise ConfigError(
                    f"{where}: rules[{i}] ({rule.id}).query" if where else f"rules[{i}] ({rule.id}).query",
                    str(exc),
                ) from None
        return cls(rules, compiled)

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
        return [r for r, q in zip(self.rules, self._compiled, strict=True) if q.matches(doc)]


def load_rules(path: Path | str) -> RuleSet:
    """Read ``rules.yaml``; any problem is one :class:`ConfigError` line naming the rule."""
    config = load_yaml(path, RulesConfig)
    return RuleSet.from_rules(config.rules, where=str(path))
