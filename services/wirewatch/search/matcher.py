"""The query language evaluated in Python: a parsed Lucene query compiled to small closures.

``compile_query(q).matches(prepare(item))`` decides whether an item matches a
query exactly as Elasticsearch would on the indexed ``search.*`` fields: the
same normalised fields (:func:`wirewatch.search.analysis.search_fields`), the
default fields title and body searched separately for phrases, 100 positions
between the values of list fields, Lucene's sloppy phrase distance. The rule
index (:mod:`wirewatch.processors.rules`) and the SQLite store's search both use it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from wirewatch.search.analysis import normalize, shared_search_tokens
from wirewatch.search.datemath import now_millis, stored_millis
from wirewatch.search.query import (
    DEFAULT_FIELDS,
    SPECS,
    BooleanNode,
    Exists,
    Kind,
    MatchAll,
    Node,
    Occur,
    Phrase,
    Prefix,
    Range,
    Term,
    Wildcard,
    date_bound,
    parse,
)
from wirewatch.search.wildcard import WildcardPattern

_MUST, _SHOULD = Occur.MUST, Occur.SHOULD  # module globals: an enum member read costs ~40 ns in 3.11

#: Elasticsearch's ``position_increment_gap`` for text fields.
POSITION_GAP = 100


# ------------------------------------------------------------------ documents

_NO_TOKENS: frozenset[str] = frozenset()
_DEFAULT = frozenset(DEFAULT_FIELDS)


#: Elasticsearch's ``ignore_above`` of the item index's keyword fields: a longer value is not
#: indexed, so it matches nothing there, and nothing here.
KEYWORD_LIMIT = 1024


def _indexable(value: Any) -> bool:
    # ignore_above counts UTF-16 units (Java characters)
    return isinstance(value, str) and (len(value) <= KEYWORD_LIMIT // 2 or len(value.encode("utf-16-le")) <= 2 * KEYWORD_LIMIT)


def _story_id(item: Mapping[str, Any]) -> Any:
    """The stored story id: the item's, else the story it duplicates, else its own id
    (as :func:`wirewatch.sinks.elasticsearch.item_document` and the SQLite store default it)."""
    if "story_id" in item:
        return item["story_id"]
    return (item.get("dedupe") or {}).get("of") or item.get("id")


def _source(item: Mapping[str, Any]) -> Mapping[str, Any]:
    source = item.get("source") or {}
    return source if isinstance(source, dict) else {"id": source}


def _list_of(items: Any, key: str) -> list[Any]:
    return [e.get(key) for e in items if isinstance(e, dict)] if isinstance(items, list) else []


#: field key -> the stored values of an item that a keyword (or boolean) field indexes.
_RAW_VALUES: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = {
    "=id": lambda i: [i.get("id")],
    "=source.id": lambda i: [_source(i).get("id")],
    "=language": lambda i: [i.get("language")],
    "=entities.type": lambda i: _list_of(i.get("entities"), "type"),
    "=story_id": lambda i: [_story_id(i)],
    "=event_id": lambda i: [i.get("event_id") or _story_id(i)],  # events.event_key: before events, the story
    "=event_merged": lambda i: list(i.get("event_merged") or []),
    "=dedupe.status": lambda i: [(i.get("dedupe") or {}).get("status")],
    "=dedupe.of": lambda i: [(i.get("dedupe") or {}).get("of")],
    "=alerts.rule": lambda i: _list_of(i.get("alerts"), "rule"),
    "=is_story": lambda i: ["true" if _story_id(i) == i.get("id") else "false"],
    "=source.name": lambda i: [normalize(name) if isinstance(name := _source(i).get("name"), str) else None],
}


def source_name(item: Mapping[str, Any]) -> str | None:
    """The item's source name normalised (``source.name:``), None when it has no words."""
    return _RAW_VALUES["=source.name"](item)[0] or None


class FieldSets(dict[str | None, AbstractSet[str]]):
    """field -> set of its tokens; key None: the default fields (title and body) together.

    Only the None set is built up front (nearly every rule needs it); a field's
    own set is built the first time it is asked for, and an unknown field has
    no tokens. A name or keyword field's "tokens" are its whole values.
    """

    __slots__ = ("_item", "_values")

    def __init__(self, values: Mapping[str, list[list[str]]], item: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._values = values
        self._item = item

    def __missing__(self, field: str | None) -> AbstractSet[str]:
        values = self._values.get(field) if field is not None else None
        if values is None:
            if field is None or not field.startswith("="):
                return _NO_TOKENS
            found = self[field] = self._whole_values(field)
            return found
        found = self[field] = set(values[0]) if len(values) == 1 else set().union(*values)
        return found

    def _whole_values(self, field: str) -> AbstractSet[str]:
        if field == "=entity":  # entity names as search.entity holds them (normalised, non-empty)
            raw: list[Any] = [" ".join(tokens) for tokens in self._values.get("entity", ())]
        elif self._item is None or field not in _RAW_VALUES:
            return _NO_TOKENS
        else:
            raw = _RAW_VALUES[field](self._item)
        return {v for v in raw if v and _indexable(v)} if field == "=source.name" else {v for v in raw if _indexable(v)}

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

    __slots__ = ("_numbers", "_positions", "_side", "_sorted", "_texts", "_tokens", "_values", "item", "sets")

    def __init__(self, values: Mapping[str, list[list[str]]], item: Mapping[str, Any] | None = None) -> None:
        self._values = values
        #: the item itself, for keyword, date and number fields (None: text fields only)
        self.item = item
        self._numbers: dict[str, int | None] = {}
        self._texts: dict[str, list[str]] = {}
        self._positions: dict[tuple[str, str], list[int]] = {}
        self._sorted: dict[str | None, list[str]] = {}
        self._tokens: AbstractSet[str] | None = None
        self._side: AbstractSet[str] | None = None
        #: field -> set of its tokens; key None: the default fields (title and body)
        self.sets = sets = FieldSets(values, item)
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

    def number(self, field: str) -> int | None:
        """A date field's epoch milliseconds or ``revision``, None when the item has none."""
        if field in self._numbers:
            return self._numbers[field]
        item = self.item or {}
        found: int | None = None
        if field == "=revision":
            revision = item.get("revision", 1)  # the index's default (item_document)
            found = revision if isinstance(revision, int) and not isinstance(revision, bool) else None
        else:
            stamp = item.get(SPECS[field].index)
            found = stored_millis(stamp) if isinstance(stamp, str) else None
        self._numbers[field] = found
        return found

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> MatchDocument:
        """From already normalised fields, e.g. :func:`search_fields` output kept in a store
        (``item``: the stored item, for keyword, date and number fields)."""
        return cls({
            name: [v.split() for v in (value if isinstance(value, list) else [value])]
            for name, value in fields.items()
        }, item)

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
    return MatchDocument(shared_search_tokens(item), item)


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
    if isinstance(node, Wildcard):  # no regex: it backtracks (issue 16); see search/wildcard.py
        wfield, literal, pattern = node.field, node.literal_prefix, WildcardPattern(node.pattern)
        return lambda d: any(pattern.matches(t) for t in d.with_prefix(wfield, literal))
    if isinstance(node, Range):
        return _compile_range(node)
    if isinstance(node, Exists):
        return _compile_exists(node.field)
    if isinstance(node, MatchAll):
        return lambda d: True
    return _compile_bool(node)


def _compile_exists(field: str) -> Matcher:
    if SPECS[field].kind in (Kind.DATE, Kind.NUMBER):
        return lambda d: d.number(field) is not None
    return lambda d: bool(d.sets[field])


def _compile_range(node: Range) -> Matcher:
    """Bounds in epoch ms (dates) or numbers; a bound using ``now`` is worked out per call."""
    field = node.field
    if SPECS[field].kind is Kind.NUMBER:
        low = None if node.lower is None else int(node.lower) + (0 if node.include_lower else 1)
        high = None if node.upper is None else int(node.upper) - (0 if node.include_upper else 1)

        def in_numbers(d: MatchDocument) -> bool:
            value = d.number(field)
            return value is not None and (low is None or value >= low) and (high is None or value <= high)

        return in_numbers
    # Elasticsearch: an inclusive upper and an exclusive lower bound are rounded up
    lower = None if node.lower is None else date_bound(node.lower)
    upper = None if node.upper is None else date_bound(node.upper)
    include_lower, include_upper = node.include_lower, node.include_upper
    relative = (lower is not None and lower.relative) or (upper is not None and upper.relative)

    def window(now: int) -> tuple[int | None, int | None]:
        lo = None if lower is None else lower.millis(not include_lower, now) + (0 if include_lower else 1)
        hi = None if upper is None else upper.millis(include_upper, now) - (0 if include_upper else 1)
        return lo, hi

    fixed = None if relative else window(0)

    def in_dates(d: MatchDocument) -> bool:
        value = d.number(field)
        if value is None:
            return False
        lo, hi = fixed or window(now_millis())
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    return in_dates


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

    @cached_property  # rule files share Anchors objects (FactsAnalyser): worked out once each
    def cost(self) -> tuple[int, int]:
        shortest = min((len(a) for a in self.tokens | self.prefixes), default=0)
        return (len(self.tokens) + 4 * len(self.prefixes), -shortest)


def _is_text(field: str | None) -> bool:
    return field is None or SPECS[field].kind is Kind.TEXT


def anchors_of(node: Node) -> Anchors | None:
    """Anchors of ``node``, or None when it can match an item without any positive term."""
    empty: frozenset[str] = frozenset()
    if isinstance(node, Range | Exists | MatchAll) or (
        isinstance(node, Term | Prefix | Wildcard) and not _is_text(node.field)
    ):  # no word of the indexed text is needed (the rule index and FTS5 see only words)
        return None
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
    if isinstance(node, Range | Exists | MatchAll) or (isinstance(node, Term) and not _is_text(node.field)):
        return frozenset()
    if isinstance(node, Term):
        return frozenset(node.tokens) if len(node.tokens) == 1 else frozenset()
    if isinstance(node, Phrase):
        return frozenset(node.tokens)
    if isinstance(node, Prefix | Wildcard):
        return frozenset()
    return _required_by_clauses(node, required_of)


def required_in_text_of(node: Node) -> frozenset[str]:
    """Tokens every matching item has in its title or body: :func:`required_of` restricted
    to the default fields, so the matcher can test them against one set."""
    if isinstance(node, Term | Phrase):
        if node.field is not None and node.field not in _DEFAULT:
            return frozenset()
        return required_of(node)
    if isinstance(node, Prefix | Wildcard | Range | Exists | MatchAll):
        return frozenset()
    return _required_by_clauses(node, required_in_text_of)


def _required_by_clauses(node: BooleanNode, of: Callable[[Node], frozenset[str]]) -> frozenset[str]:
    """What a boolean query requires: every MUST clause's words, else the words all SHOULDs share."""
    musts = [of(c.node) for c in node.clauses if c.occur is Occur.MUST]
    if musts:
        return frozenset().union(*musts)
    shoulds = [of(c.node) for c in node.clauses if c.occur is Occur.SHOULD]
    return frozenset.intersection(*shoulds) if shoulds else frozenset()


class QueryFacts(NamedTuple):
    """What the rule index needs of a query, without its matcher (compiled only when needed)."""

    anchors: Anchors | None
    required: frozenset[str]
    required_in_text: frozenset[str]


class FactsAnalyser:
    """:class:`QueryFacts` for many queries, equal sets shared (100,000 rules use a few thousand).

    One pass over the tree gives what :func:`anchors_of`, :func:`required_of` and
    :func:`required_in_text_of` give (the parser shares word nodes, so a word's facts are
    worked out once). One analyser per rule file: it keeps every distinct set it returned.
    One pass and shared sets: 100k rules 3.6 -> 3.0 s CPU, 193 -> 197 MB to load (bench
    rules.startup_s_100k); tests/processors/test_rules_index.py::test_facts_analyser_gives_what_the_three_functions_give
    """

    def __init__(self) -> None:
        self._sets: dict[frozenset[str], frozenset[str]] = {}
        self._anchors: dict[tuple[frozenset[str], frozenset[str]], Anchors] = {}
        self._leaves: dict[int, tuple[Node, QueryFacts]] = {}  # id -> (node kept alive, facts)

    def _set(self, words: frozenset[str]) -> frozenset[str]:
        return self._sets.setdefault(words, words)

    def _anchor(self, tokens: frozenset[str], prefixes: frozenset[str]) -> Anchors:
        key = (self._set(tokens), self._set(prefixes))
        found = self._anchors.get(key)
        if found is None:
            found = self._anchors[key] = Anchors(*key)
        return found

    def facts(self, query: str) -> QueryFacts:
        """Parse ``query`` as a rule (raises :class:`QuerySyntaxError`, also for a field decided
        after rules run) and keep only its facts, not its tree."""
        return self._facts(parse(query, for_rules=True))

    def _facts(self, node: Node) -> QueryFacts:
        if not isinstance(node, BooleanNode):
            known = self._leaves.get(id(node)) if isinstance(node, Term) else None
            if known is None:
                leaf = anchors_of(node)
                facts = QueryFacts(
                    None if leaf is None else self._anchor(leaf.tokens, leaf.prefixes),
                    self._set(required_of(node)), self._set(required_in_text_of(node)),
                )
                if isinstance(node, Term):  # shared by the parser: worth remembering
                    self._leaves[id(node)] = (node, facts)
                return facts
            return known[1]
        musts: list[QueryFacts] = []
        shoulds: list[QueryFacts] = []
        for clause in node.clauses:
            occur = clause.occur
            if occur is _MUST:
                musts.append(self._facts(clause.node))
            elif occur is _SHOULD:
                shoulds.append(self._facts(clause.node))
        anchors: Anchors | None
        if musts:
            known_anchors = [f.anchors for f in musts if f.anchors is not None]
            anchors = min(known_anchors, key=lambda a: a.cost) if known_anchors else None
            required = frozenset().union(*(f.required for f in musts))
            in_text = frozenset().union(*(f.required_in_text for f in musts))
        else:
            if not shoulds or any(f.anchors is None for f in shoulds):
                anchors = None
            else:
                anchors = self._anchor(
                    frozenset().union(*(f.anchors.tokens for f in shoulds if f.anchors)),
                    frozenset().union(*(f.anchors.prefixes for f in shoulds if f.anchors)),
                )
            required = frozenset.intersection(*(f.required for f in shoulds)) if shoulds else frozenset()
            in_text = frozenset.intersection(*(f.required_in_text for f in shoulds)) if shoulds else frozenset()
        return QueryFacts(anchors, self._set(required), self._set(in_text))


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
