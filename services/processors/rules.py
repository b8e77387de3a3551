"""Alert rules (``rules.yaml``) and the indexed matcher that runs them on every item.

Each rule's Lucene query is parsed once (:mod:`wirewatch.processors.query`)
into a tree of small closures. Matching stays fast with thousands of rules
because a rule is only evaluated when the item holds one of its *anchors*: a
set of terms (or prefixes) at least one of which any matching item must
contain. An inverted index anchor -> rules yields the candidates; rules that
can match without any positive term (``-sport``) are always candidates.
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
from collections.abc import Callable, Iterable, Mapping
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


class MatchDocument:
    """An item prepared once for matching: token sets per field, texts and positions on demand.

    Most rules are decided by set lookups, so only the token sets are built
    up front. A field's values are joined into normalised text padded with
    spaces (an exact phrase is then a substring test) the first time a phrase
    needs that field, and positions only for the words a sloppy phrase needs.
    """

    __slots__ = ("_positions", "_sorted", "_texts", "_values", "sets", "tokens")

    def __init__(self, values: Mapping[str, list[list[str]]]) -> None:
        self._values = values
        self._texts: dict[str, list[str]] = {}
        #: field -> set of its tokens; key None: the default fields (title and body)
        sets: dict[str | None, set[str]] = {}
        for name, tokens in values.items():
            sets[name] = set(tokens[0]) if len(tokens) == 1 else set().union(*tokens)
        title, body = sets.get("title"), sets.get("body")
        if title is None or body is None:
            default = (title or set()) | (body or set())
        else:  # a title's words are often all in the body: share the set (never mutated)
            default = body if title <= body else body | title
        sets[None] = default
        self.sets = sets
        extra = [
            s for name, s in sets.items()
            if name not in ("title", "body", None) and s and not s <= default
        ]
        #: every token of the item, whatever the field (for the rule index)
        self.tokens: set[str] = default.union(*extra) if extra else default
        self._positions: dict[tuple[str, str], list[int]] = {}
        self._sorted: dict[str | None, list[str]] = {}

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
            for text in self._field_texts(field):
                at = text.find(needle)
                while at >= 0:
                    found.append(base + text.count(" ", 1, at + 1))
                    at = text.find(needle, at + len(token) + 1)
                base += text.count(" ") - 1 + POSITION_GAP
            self._positions[key] = found
        return found

    def sorted_tokens(self, field: str | None) -> list[str]:
        cached = self._sorted.get(field)
        if cached is None:
            cached = self._sorted[field] = sorted(self.sets.get(field, ()))
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
            return lambda d: token in d.sets.get(field, _NO_TOKENS)
        anyof = frozenset(tokens)
        return lambda d: not anyof.isdisjoint(d.sets.get(field, _NO_TOKENS))
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
    fields = DEFAULT_FIELDS if node.field is None else (node.field,)
    tokens, slop, needed, words = node.tokens, node.slop, frozenset(node.tokens), " ".join(node.tokens)

    def match(d: MatchDocument) -> bool:
        for field in fields:
            if needed <= d.sets.get(field, _NO_TOKENS) and (
                _phrase_in(d, field, tokens, slop) if slop else d.has_phrase(field, words)
            ):
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
    return lambda d: tokens <= d.sets.get(field, _NO_TOKENS)


def _any_of(field: str | None, tokens: frozenset[str]) -> Matcher:
    return lambda d: not tokens.isdisjoint(d.sets.get(field, _NO_TOKENS))


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
            for m in must_not:
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
        for m in should:
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

class RuleSet:
    """Rules compiled and indexed by their anchors."""

    def __init__(self, rules: list[Rule], compiled: list[CompiledQuery]) -> None:
        self.rules = rules
        self._compiled = compiled
        self._required = [q.required for q in compiled]
        self._always: list[int] = []
        self._by_token: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}  # first <= 3 chars of a prefix anchor
        for idx, query in enumerate(compiled):
            anchors = query.anchors
            if anchors is None:
                self._always.append(idx)
                continue
            for token in anchors.tokens:
                self._by_token.setdefault(token, []).append(idx)
            for prefix in anchors.prefixes:
                self._by_prefix.setdefault(prefix[:_PREFIX_KEY], []).append(idx)
        self._anchor_tokens = frozenset(self._by_token)
        self._prefix_lengths = sorted({len(k) for k in self._by_prefix})

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

    def candidates(self, doc: MatchDocument) -> list[int]:
        """Indices of the rules that might match ``doc`` (a superset of those that do)."""
        found = set(self._always)
        by_token = self._by_token
        for token in doc.tokens & self._anchor_tokens:
            found.update(by_token[token])
        if self._by_prefix:
            by_prefix = self._by_prefix
            for n in self._prefix_lengths:
                for key in {t[:n] for t in doc.tokens if len(t) >= n} & by_prefix.keys():
                    found.update(by_prefix[key])
        return sorted(found)

    def match(self, doc: MatchDocument) -> list[Rule]:
        """The rules ``doc`` matches, in file order; only candidate rules are evaluated."""
        compiled, rules, required, tokens = self._compiled, self.rules, self._required, doc.tokens
        return [
            rules[i] for i in self.candidates(doc)
            if required[i] <= tokens and compiled[i].matches(doc)
        ]

    def match_naive(self, doc: MatchDocument) -> list[Rule]:
        """Every rule evaluated: the oracle for :meth:`match` and the benchmark baseline."""
        return [r for r, q in zip(self.rules, self._compiled, strict=True) if q.matches(doc)]


def load_rules(path: Path | str) -> RuleSet:
    """Read ``rules.yaml``; any problem is one :class:`ConfigError` line naming the rule."""
    config = load_yaml(path, RulesConfig)
    return RuleSet.from_rules(config.rules, where=str(path))
