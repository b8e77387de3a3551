"""Lucene query-string parser with the exact boolean semantics of Elasticsearch.

Rules are written as typed into Kibana, so the parser follows Lucene's classic
``QueryParser`` with default operator OR (what ``query_string`` does), including
its per-clause quirks (``QueryParserBase.addClause``): ``a AND b OR c`` is
``+a +b c``, ``a OR b AND c`` is ``a +b +c``, ``NOT a AND b`` is ``-a +b``.
:func:`parse` resolves those quirks once into a tree whose clauses carry an
explicit MUST/SHOULD/MUST_NOT, and runs every word through
:func:`wirewatch.search.analysis.normalize`. The stream matcher evaluates
that tree and :func:`to_query_string` renders it back with explicit ``+``/``-``
for Elasticsearch, so both sides see one meaning.

Mirrored from Elasticsearch (checked on a real node by the parity tests):
a word that normalises to several tokens (``covid-19``, ``o'neill``) matches
any of them (a bool of SHOULD terms in one clause); a word that normalises to
nothing is dropped, though an ``AND`` before it still makes the previous clause
required; a group or query with only MUST_NOT clauses matches everything else.

Fields (:data:`FIELDS`) are the index's own names and short ones. Text fields
(``title``, ``body``, ``source``, ``tags``, ``search.*``) match words, normalised;
keyword fields (``source.id``, ``language``, ``story_id``, ``dedupe.status``,
``entities.type``, ``is_story``...) match the exact stored value, as Elasticsearch's
keyword fields do; ``entity:`` / ``entities.name:`` and ``source.name:`` match a whole
name after normalisation (``entity:"bank of japan"``; words inside names:
``search.entity:japan``). Ranges ``[a TO b]``, ``{a TO b}``, mixed, ``*`` for an open
end, and one-sided ``>x``/``>=x``/``<x``/``<=x``, on the date fields
(:mod:`wirewatch.search.datemath`) and ``revision``; ``*`` and ``*:*`` match everything,
``field:*`` items that have the field. A field decided after rules run (dedupe's) is refused
in rules (``parse(q, for_rules=True)``).

Rejected with position (1-based character) and reason: empty query or group,
unbalanced quotes, parentheses or brackets, dangling operators, unknown fields,
leading wildcards (``*ab``: unindexable, and usually a mistake), ranges on a field
without an order, and syntax this tool does not support (fuzzy ``a~``, boosts ``^``,
regular expressions).

Hostile queries are bounded (issue 16): groups nest at most :data:`MAX_DEPTH`
deep, so no caller (parser, compiler, renderer, matcher: all recursive over
the tree) comes near Python's recursion limit; a proximity is at most
:data:`MAX_SLOP`. Any string given to :func:`parse` ends in a tree or a
:class:`QuerySyntaxError`, never another exception (tests/search/test_query_fuzz.py).
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wirewatch.search.analysis import CHARACTER_TOKEN, normalize, tokenize
from wirewatch.search.datemath import DateBound, DateMathError, parse_bound


class Kind(enum.Enum):
    """How a field matches: what its index field is in Elasticsearch."""

    TEXT = "text"  # normalised words (search.* text fields)
    NAME = "name"  # a whole value after normalisation (a keyword field of normalised values)
    KEYWORD = "keyword"  # the exact stored value, case and all
    BOOLEAN = "boolean"
    DATE = "date"
    NUMBER = "number"


@dataclass(frozen=True)
class FieldSpec:
    """A searchable field: ``key`` is what nodes and the matcher call it, ``index`` its
    path in the item index; ``late``: decided after rules run (dedupe), so rules can't use it."""

    key: str
    kind: Kind
    index: str
    late: bool = False


def _text(key: str) -> FieldSpec:
    return FieldSpec(key, Kind.TEXT, "search." + key)


#: field key -> its spec. Text keys are the keys of search_fields(); the others start with "=".
SPECS: dict[str, FieldSpec] = {spec.key: spec for spec in (
    *(_text(k) for k in ("title", "body", "source", "entity", "tags", "language")),
    FieldSpec("=entity", Kind.NAME, "search.entity.exact"),
    FieldSpec("=source.name", Kind.NAME, "search.source_name"),
    FieldSpec("=id", Kind.KEYWORD, "id"),
    FieldSpec("=source.id", Kind.KEYWORD, "source.id"),
    FieldSpec("=language", Kind.KEYWORD, "language"),
    FieldSpec("=entities.type", Kind.KEYWORD, "entities.type"),
    FieldSpec("=story_id", Kind.KEYWORD, "story_id", late=True),
    FieldSpec("=event_id", Kind.KEYWORD, "event_id", late=True),
    FieldSpec("=event_merged", Kind.KEYWORD, "event_merged", late=True),
    FieldSpec("=dedupe.status", Kind.KEYWORD, "dedupe.status", late=True),
    FieldSpec("=dedupe.of", Kind.KEYWORD, "dedupe.of", late=True),
    FieldSpec("=alerts.rule", Kind.KEYWORD, "alerts.rule", late=True),
    FieldSpec("=is_story", Kind.BOOLEAN, "is_story", late=True),
    FieldSpec("=published_at", Kind.DATE, "published_at"),
    FieldSpec("=updated_at", Kind.DATE, "updated_at"),
    FieldSpec("=fetched_at", Kind.DATE, "fetched_at"),
    FieldSpec("=processed_at", Kind.DATE, "processed_at", late=True),
    FieldSpec("=revision", Kind.NUMBER, "revision", late=True),
)}
#: Field names usable in a query -> the key of the field they search. Short names first,
#: then the item index's own field names (what Kibana shows) for the same fields.
FIELDS = {
    "title": "title", "body": "body", "source": "source", "tags": "tags", "tag": "tags",
    "entity": "=entity", "language": "=language",
    **{f"search.{k}": k for k in ("title", "body", "source", "entity", "tags", "language")},
    **{spec.index: key for key, spec in SPECS.items() if key.startswith("=")},
    "entities.name": "=entity", "source.name": "=source.name",
}
#: Searched when a clause names no field (Elasticsearch: ``fields`` of query_string).
DEFAULT_FIELDS = ("title", "body")
#: Where :func:`wirewatch.search.analysis.search_fields` lives in the index.
INDEX_FIELD_PREFIX = "search."
#: Deepest nesting of groups ``( )``. Each level costs every recursive walk of the tree 1-3
#: Python frames; 32 keeps the worst (~100 frames) far below the interpreter's limit of 1,000
#: whatever the caller's own stack (a Faust agent, an aiohttp handler, a worker thread), and is
#: far beyond what a person writes (the example and bench rules nest at most 3 deep).
MAX_DEPTH = 32
#: Largest proximity ``"a b"~N``: Lucene keeps the slop in a Java int and silently saturates a
#: larger number to this one, so every accepted slop means the same in the matcher and in
#: Elasticsearch; a larger one (or 5,000 digits) is a clear error, not a silent change.
MAX_SLOP = 2**31 - 1


class QuerySyntaxError(ValueError):
    """A query that cannot be used; ``position`` is the 1-based character it concerns."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(f"at position {position}: {reason}")


class Occur(enum.Enum):
    """How a clause takes part in its boolean query (rendered as its Lucene prefix)."""

    MUST = "+"
    SHOULD = ""
    MUST_NOT = "-"


@dataclass(frozen=True)
class Term:
    """A word; matches if any of its normalised ``tokens`` occurs in the field."""

    text: str
    tokens: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    """Tokens in order; with ``slop`` > 0, Lucene's sloppy phrase (moves allowed)."""

    text: str
    tokens: tuple[str, ...]
    slop: int = 0
    field: str | None = None


@dataclass(frozen=True)
class Prefix:
    """``term*``: any token starting with ``prefix`` (normalised)."""

    prefix: str
    field: str | None = None


@dataclass(frozen=True)
class Wildcard:
    """A token pattern with ``*`` (any run) and ``?`` (one character), never leading."""

    pattern: str
    field: str | None = None

    @property
    def literal_prefix(self) -> str:
        """The characters before the first wildcard (non-empty by construction)."""
        cut = min(i for i in (self.pattern.find("*"), self.pattern.find("?")) if i >= 0)
        return self.pattern[:cut]


@dataclass(frozen=True)
class Clause:
    occur: Occur
    node: Node


@dataclass(frozen=True)
class BooleanNode:
    """Clauses with resolved occurrences; only-MUST_NOT means "everything else"."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class Range:
    """``field:[lower TO upper]`` on a date or number field; a bound of None is open (``*``)."""

    field: str
    lower: str | None
    upper: str | None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True)
class Exists:
    """``field:*``: items that have a value in the field."""

    field: str


@dataclass(frozen=True)
class MatchAll:
    """``*`` or ``*:*``: every item."""


Node = Term | Phrase | Prefix | Wildcard | Range | Exists | MatchAll | BooleanNode


# --------------------------------------------------------------------- lexer

class _K(enum.Enum):
    TERM = "term"
    PHRASE = "phrase"
    LPAREN = "("
    RPAREN = ")"
    PLUS = "+"
    MINUS = "-"
    NOT = "NOT"
    AND = "AND"
    OR = "OR"
    COLON = ":"
    TILDE = "~"
    RANGE = "range"
    EOF = "end of query"


@dataclass(slots=True)
class _Tok:
    kind: _K
    pos: int  # 0-based
    text: str = ""
    # TERM: (character, is an unescaped wildcard) pairs
    chars: tuple[tuple[str, bool], ...] = ()
    # TERM without escapes or wildcards: ``text`` is the word (``chars`` left empty)
    plain: bool = False
    # RANGE: (lower, upper, include lower, include upper), None for an open end
    bounds: tuple[str | None, str | None, bool, bool] | None = None


# the parser's enum members as module globals: a member read through its class costs
# ~40 ns in 3.11, ~4 ns as a global (parse of 100k bench rules 1.31 -> 1.05 s CPU)
_TERM, _PHRASE, _LPAREN, _RPAREN, _EOF, _TILDE = _K.TERM, _K.PHRASE, _K.LPAREN, _K.RPAREN, _K.EOF, _K.TILDE
_AND, _OR, _PLUS, _MINUS, _NOT, _COLON = _K.AND, _K.OR, _K.PLUS, _K.MINUS, _K.NOT, _K.COLON
_RANGE = _K.RANGE
_ENDS, _CONJUNCTIONS, _MODIFIERS = (_EOF, _RPAREN), (_AND, _OR), (_PLUS, _MINUS, _NOT)
_OPERANDS = (_TERM, _PHRASE, _LPAREN, _RANGE)
_MUST, _SHOULD, _MUST_NOT = Occur.MUST, Occur.SHOULD, Occur.MUST_NOT

_SLOP_CHARS = frozenset("0123456789.")
_SPECIAL = set(' \t\n\r\u3000+-!():^[]"{}~/\\')
_UNSUPPORTED = {
    "^": "boosts (^) are not supported",
    "]": "unbalanced ] (a range is field:[a TO b])",
    "}": "unbalanced } (a range is field:{a TO b})",
    "/": "regular expressions are not supported (escape / as \\/)",
}
_PUNCTUATION = {"(": _K.LPAREN, ")": _K.RPAREN, "+": _K.PLUS, "-": _K.MINUS, "!": _K.NOT, ":": _K.COLON}
_OPERATORS = {"AND": _K.AND, "&&": _K.AND, "OR": _K.OR, "||": _K.OR, "NOT": _K.NOT}
#: A term up to the next special character (+ and - allowed after its first character): what
#: the character loop below reads when the term holds no escape or wildcard. Plain-term regex:
#: lexing 100k bench rules 0.76 -> 0.55 s CPU (bench rules.startup_s_100k);
#: tests/search/test_query.py::test_plain_term_fast_path_lexes_as_the_character_loop
#: Lucene's Range lexer state: a quoted bound or "goop" (anything but space, ] and }), TO, a
#: bound, the closing bracket.
_RANGE_BOUND = r'("(?:[^"\\]|\\.)*"|[^ \t\n\r\u3000\]}]+)'
_RANGE_BODY = re.compile(
    rf"[ \t\n\r\u3000]*{_RANGE_BOUND}[ \t\n\r\u3000]+TO(?:[ \t\n\r\u3000]+|(?=\")){_RANGE_BOUND}[ \t\n\r\u3000]*([\]}}])"
)
_PLAIN_TERM = re.compile(r'[^ \t\n\r\u3000+\-!():^\[\]"{}~/\\*?][^ \t\n\r\u3000!():^\[\]"{}~/\\*?]*')


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in " \t\n\r\u3000":
            i += 1
        elif c in _PUNCTUATION:
            toks.append(_Tok(_PUNCTUATION[c], i, c))
            i += 1
        elif c == '"':
            j, text = i + 1, []
            while j < n and query[j] != '"':
                if query[j] == "\\" and j + 1 < n:
                    j += 1
                text.append(query[j])
                j += 1
            if j >= n:
                raise QuerySyntaxError(i + 1, "unbalanced quote")
            toks.append(_Tok(_PHRASE, i, "".join(text)))
            i = j + 1
        elif c in "[{":
            m = _RANGE_BODY.match(query, i + 1)
            if m is None:
                raise QuerySyntaxError(i + 1, "a range is field:[a TO b] ({ } for exclusive ends, * for an open one)")
            toks.append(_Tok(_RANGE, i, m.group(), bounds=(
                _range_bound(m.group(1)), _range_bound(m.group(2)), c == "[", m.group(3) == "]")))
            i = m.end()
        elif c == "~":
            j = i + 1
            while j < n and query[j] in _SLOP_CHARS:  # ASCII only, as Lucene's <_NUM_CHAR>
                j += 1
            toks.append(_Tok(_TILDE, i, query[i + 1 : j]))
            i = j
        elif c in _UNSUPPORTED:
            raise QuerySyntaxError(i + 1, _UNSUPPORTED[c])
        else:
            plain = _PLAIN_TERM.match(query, i)
            if plain is not None and (plain.end() == n or query[plain.end()] not in "\\*?"):
                raw = plain.group()
                op = _OPERATORS.get(raw)
                toks.append(_Tok(op, i, raw) if op is not None else _Tok(_TERM, i, raw, plain=True))
                i = plain.end()
                continue
            start, escaped = i, False
            chars: list[tuple[str, bool]] = []
            while i < n:
                c = query[i]
                if c == "\\":
                    if i + 1 >= n:
                        raise QuerySyntaxError(i + 1, "escape character \\ at the end")
                    chars.append((query[i + 1], False))
                    escaped = True
                    i += 2
                elif c in "*?":
                    chars.append((c, True))
                    i += 1
                elif c in _SPECIAL and not (c in "+-" and i > start):
                    break
                else:
                    chars.append((c, False))
                    i += 1
            raw = query[start:i]
            if not escaped and raw in _OPERATORS:
                toks.append(_Tok(_OPERATORS[raw], start, raw))
            else:
                toks.append(_Tok(_TERM, start, raw, tuple(chars)))
    toks.append(_Tok(_EOF, n))
    toks.append(toks[-1])  # peek(1) at the end needs no bounds check
    return toks


def _range_bound(raw: str) -> str | None:
    if raw == "*":
        return None
    if raw.startswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


# -------------------------------------------------------------------- parser

_MOD_NONE, _MOD_REQ, _MOD_NOT = 0, 1, 2
_CONJ_NONE, _CONJ_AND, _CONJ_OR = 0, 1, 2


def _add_clause(clauses: list[Clause], conj: int, mods: int, node: Node | None) -> None:
    """Lucene's ``QueryParserBase.addClause`` for default operator OR, verbatim in effect."""
    if clauses and conj == _CONJ_AND and clauses[-1].occur is not _MUST_NOT:
        clauses[-1] = Clause(_MUST, clauses[-1].node)
    if node is None:  # the analyzer removed every token: Lucene drops the clause
        return
    prohibited = mods == _MOD_NOT
    required = mods == _MOD_REQ or (conj == _CONJ_AND and not prohibited)
    occur = _MUST_NOT if prohibited else _MUST if required else _SHOULD
    clauses.append(Clause(occur, node))


class _Parser:
    def __init__(self, query: str, for_rules: bool = False) -> None:
        self.for_rules = for_rules
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0  # groups open at the current token

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[self.i + ahead]  # never past the padded EOF: EOF is never taken

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def query(self, field: str | None, group: _Tok | None) -> Node | None:
        clauses: list[Clause] = []
        first = True
        while True:
            tok = self.peek()
            if tok.kind in _ENDS:
                if first:
                    if group is None:
                        raise QuerySyntaxError(tok.pos + 1, "empty query")
                    raise QuerySyntaxError(group.pos + 1, "empty group ()")
                break
            conj = _CONJ_NONE
            if tok.kind in _CONJUNCTIONS:
                if first:
                    raise QuerySyntaxError(tok.pos + 1, f"{tok.text} needs a clause before it")
                conj = _CONJ_AND if tok.kind is _AND else _CONJ_OR
                self.take()
            mods = _MOD_NONE
            if self.peek().kind in _MODIFIERS:
                mods = _MOD_REQ if self.peek().kind is _PLUS else _MOD_NOT
                self.take()
            if conj != _CONJ_NONE or mods != _MOD_NONE:
                after = self.toks[self.i - 1]
                nxt = self.peek()
                if nxt.kind in _ENDS:
                    raise QuerySyntaxError(after.pos + 1, f"nothing after {after.text}")
            _add_clause(clauses, conj, mods, self.clause(field))
            first = False
        if not clauses:
            return None
        if len(clauses) == 1 and clauses[0].occur is not _MUST_NOT:
            return clauses[0].node
        return BooleanNode(tuple(clauses))

    def clause(self, field: str | None) -> Node | None:
        tok = self.peek()
        if tok.kind is _TERM and self.peek(1).kind is _COLON:
            name = tok.text
            if name == "*":
                self.take()
                colon = self.take()
                if self.peek().kind is not _TERM or self.peek().text != "*":
                    raise QuerySyntaxError(colon.pos + 1, "*: goes with * only (*:* matches everything)")
                self.take()
                return MatchAll()
            if name not in FIELDS:
                close = difflib.get_close_matches(name, FIELDS, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise QuerySyntaxError(tok.pos + 1, f"unknown field {shorten(name)!r} ({hint}use {', '.join(sorted(FIELDS))})")
            field = FIELDS[name]
            if self.for_rules and SPECS[field].late:
                raise QuerySyntaxError(
                    tok.pos + 1,
                    f"{name} is decided after rules run (by dedupe), so a rule cannot use it; search and backtest can",
                )
            self.take()
            colon = self.take()
            tok = self.peek()
            if tok.kind not in _OPERANDS:
                raise QuerySyntaxError(
                    colon.pos + 1, f"{name}: must be followed by a term, phrase, range or group"
                )
        if tok.kind is _RANGE:
            self.take()
            return _range(tok, field)
        if tok.kind is _LPAREN:
            if self.depth == MAX_DEPTH:
                raise QuerySyntaxError(tok.pos + 1, f"groups ( ) nested more than {MAX_DEPTH} deep")
            self.take()
            self.depth += 1
            node = self.query(field, tok)
            self.depth -= 1
            if self.peek().kind is not _RPAREN:
                raise QuerySyntaxError(tok.pos + 1, "unbalanced parenthesis")
            self.take()
            if self.peek().kind is _TILDE:
                raise QuerySyntaxError(self.peek().pos + 1, "~ applies to phrases only")
            return node
        if tok.kind is _PHRASE:
            self.take()
            slop = 0
            if self.peek().kind is _TILDE:
                tilde = self.take()
                if not tilde.text or "." in tilde.text:
                    raise QuerySyntaxError(
                        tilde.pos + 1, 'proximity needs a whole number, e.g. "a b"~3'
                    )
                digits = tilde.text.lstrip("0")
                if len(digits) > len(str(MAX_SLOP)) or int(digits or "0") > MAX_SLOP:
                    raise QuerySyntaxError(tilde.pos + 1, f"proximity ~{shorten(tilde.text)} is larger than {MAX_SLOP}")
                slop = int(digits or "0")
            if not tok.text.strip():
                raise QuerySyntaxError(tok.pos + 1, "empty phrase")
            if field is not None and SPECS[field].kind is not Kind.TEXT:
                return _value(tok, field, tok.text)
            tokens = _tokens(tok.text)
            return Phrase(tok.text, tokens, slop, field) if tokens else None
        if tok.kind is _TERM:
            self.take()
            if self.peek().kind is _TILDE:
                raise QuerySyntaxError(
                    self.peek().pos + 1, 'fuzzy terms (~) are not supported; use "a b"~N for proximity'
                )
            return _term(tok, field)
        what = "end of query" if tok.kind is _EOF else repr(tok.text)
        raise QuerySyntaxError(tok.pos + 1, f"expected a term, phrase or group, got {what}")

    def parse(self) -> Node:
        node = self.query(None, None)
        tok = self.peek()
        if tok.kind is _RPAREN:
            raise QuerySyntaxError(tok.pos + 1, "unbalanced parenthesis")
        if node is None:
            raise QuerySyntaxError(1, "no searchable words (every word normalises to nothing)")
        return node


def shorten(text: str, keep: int = 20) -> str:
    """Hostile text quoted in an error message: at most ``keep`` characters and a count."""
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text)} characters)"


@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    """Normalised words, cached: rules repeat their words (100k rules, a few thousand words)."""
    return tuple(tokenize(text))


@lru_cache(maxsize=1 << 16)
def _plain_term(text: str, field: str | None) -> Term | None:
    """One shared (immutable) node per word and field."""
    tokens = _tokens(text)
    return Term(text, tokens, field) if tokens else None


_RANGE_FIELDS = ", ".join(spec.index for spec in SPECS.values() if spec.kind in (Kind.DATE, Kind.NUMBER))


def _range(tok: _Tok, field: str | None) -> Range:
    """A range token on ``field``, its bounds checked as the field's type reads them."""
    assert tok.bounds is not None
    lower, upper, include_lower, include_upper = tok.bounds
    kind = SPECS[field].kind if field is not None else None
    if kind not in (Kind.DATE, Kind.NUMBER):
        where = f"not on {SPECS[field].index}" if field is not None else "and need a field"
        raise QuerySyntaxError(tok.pos + 1, f"ranges work on {_RANGE_FIELDS} ({where}), e.g. published_at:[now-1h TO now]")
    assert field is not None
    for bound in (lower, upper):
        if bound is not None:
            _check_bound(tok, field, bound)
    return Range(field, lower, upper, include_lower, include_upper)


def _check_bound(tok: _Tok, field: str, bound: str) -> None:
    spec = SPECS[field]
    if spec.kind is Kind.NUMBER:
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", bound):
            raise QuerySyntaxError(tok.pos + 1, f"{spec.index} takes whole numbers, not {shorten(bound)!r}")
        return
    try:
        parse_bound(bound)
    except DateMathError as exc:
        raise QuerySyntaxError(tok.pos + 1, f"{spec.index}: {exc}") from None


def date_bound(text: str) -> DateBound:
    """A date bound the parser accepted (the matcher evaluates it)."""
    return parse_bound(text)


def _value(tok: _Tok, field: str, text: str) -> Node | None:
    """A whole value (a term or phrase) on a field that is not a text field."""
    spec = SPECS[field]
    if spec.kind is Kind.NAME:
        value = normalize(text)
        return Term(text, (value,), field) if value else None
    if spec.kind is Kind.KEYWORD:
        return Term(text, (text,), field)
    if spec.kind is Kind.BOOLEAN:
        if text not in ("true", "false"):
            raise QuerySyntaxError(tok.pos + 1, f"{spec.index} is true or false, not {shorten(text)!r}")
        return Term(text, (text,), field)
    for op, (lower, upper, include) in _COMPARISONS.items():  # Elasticsearch's field:>now-1h
        if text.startswith(op) and len(text) > len(op):
            bound = text[len(op):]
            _check_bound(tok, field, bound)
            return Range(field, bound if lower else None, bound if upper else None,
                         include if lower else True, include if upper else True)
    _check_bound(tok, field, text)  # a date or number alone: the range from it to itself
    return Range(field, text, text)


#: ``field:>=x`` and friends (query_string's one-sided ranges): (sets lower, sets upper, inclusive)
_COMPARISONS = {">=": (True, False, True), "<=": (False, True, True), ">": (True, False, False), "<": (False, True, False)}


def _term(tok: _Tok, field: str | None) -> Node | None:
    kind = SPECS[field].kind if field is not None else Kind.TEXT
    if tok.chars == (("*", True),):  # * alone: everything, or items having the field
        return MatchAll() if field is None else Exists(field)
    if kind is not Kind.TEXT:
        return _field_term(tok, field, kind)
    if tok.plain:
        return _plain_term(tok.text, field)
    if not any(wild for _, wild in tok.chars):
        return _plain_term("".join(c for c, _ in tok.chars), field)
    # wildcard: normalise each literal run between wildcards, which must stay one word
    pattern: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        words = tokenize("".join(literal))
        if len(words) > 1:
            raise QuerySyntaxError(
                tok.pos + 1, f"wildcard term {tok.text!r} must be a single word, e.g. zelensk*"
            )
        pattern.extend(words)
        literal.clear()

    for c, wild in tok.chars:
        if wild:
            flush()
            pattern.append(c)
        else:
            literal.append(c)
    flush()
    return _pattern_node(tok, "".join(pattern), field)


def _pattern_node(tok: _Tok, text: str, field: str | None) -> Node:
    """A normalised wildcard pattern as a node: a trailing-``*``-only pattern is a Prefix."""
    if not text or text[0] in "*?":
        raise QuerySyntaxError(tok.pos + 1, f"leading wildcard in {tok.text!r} is not allowed")
    stripped = text.rstrip("*")
    if "*" not in stripped and "?" not in stripped:
        return Prefix(stripped, field)
    return Wildcard(text, field)


def _field_term(tok: _Tok, field: str | None, kind: Kind) -> Node | None:
    """A term on a name, keyword, boolean, date or number field: a whole value, or a
    wildcard over whole values (names normalised run by run, keywords as typed)."""
    assert field is not None
    chars = tok.chars or tuple((c, False) for c in tok.text)
    if not any(wild for _, wild in chars):
        return _value(tok, field, "".join(c for c, _ in chars))
    if kind not in (Kind.NAME, Kind.KEYWORD):
        raise QuerySyntaxError(tok.pos + 1, f"wildcards don't apply to {SPECS[field].index} (use a range or *)")
    pattern: list[str] = []
    literal: list[str] = []
    for c, wild in (*chars, ("", True)):
        if wild:
            run = "".join(literal)
            pattern.append(normalize(run) if kind is Kind.NAME else run)
            pattern.append(c)
            literal.clear()
        else:
            literal.append(c)
    return _pattern_node(tok, "".join(pattern), field)


def parse(query: str, *, for_rules: bool = False) -> Node:
    """Parse a Lucene query string into a resolved, normalised tree.

    ``for_rules``: refuse fields decided after rules run (:attr:`FieldSpec.late`).
    """
    return _Parser(query, for_rules).parse()


def character_split_words(query: str) -> list[Term]:
    """Unquoted words of ``query`` that split into single Han/Hiragana characters (``莫斯科``).

    Lucene makes one token per such character and ``query_string`` turns the
    word into "any of these characters" (default operator OR), here as in
    Elasticsearch: nearly always a phrase (``"莫斯科"``) was meant. For a warning.
    """
    if not CHARACTER_TOKEN.search(query):
        return []
    found: list[Term] = []

    def walk(node: Node) -> None:
        if isinstance(node, BooleanNode):
            for clause in node.clauses:
                walk(clause.node)
        elif isinstance(node, Term) and sum(1 for t in node.tokens if CHARACTER_TOKEN.fullmatch(t)) > 1:
            found.append(node)

    walk(parse(query))
    return found


# ----------------------------------------------------------------- rendering

def _field(field: str | None) -> str:
    return f"{SPECS[field].index}:" if field else ""


# Lucene's QueryParser.escape: tokens may hold query syntax (a:b, Hebrew צה"ל, don't is fine)
_QUERY_SYNTAX = re.compile(r'([\\+\-!():^\[\]"{}~*?|&/])')
# ... and whitespace, inside a keyword value (a wildcard over a value with spaces)
_VALUE_SYNTAX = re.compile(r'([\\+\-!():^\[\]"{}~*?|&/\s])')


def _escape(token: str, keep: str = "", syntax: re.Pattern[str] = _QUERY_SYNTAX) -> str:
    return syntax.sub(lambda m: m.group() if m.group() in keep else "\\" + m.group(), token)


def _is_text(field: str | None) -> bool:
    return field is None or SPECS[field].kind is Kind.TEXT


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_query_string(node: Node) -> str:
    """Render for Elasticsearch ``query_string``: index field names, normalised words,
    explicit ``+``/``-`` per clause (so no operator quirk is applied twice)."""
    if isinstance(node, Term):
        if not _is_text(node.field):  # one whole value: quoted, the keyword analyzer keeps it whole
            return _field(node.field) + _quoted(node.tokens[0])
        return _field(node.field) + "\\ ".join(map(_escape, node.tokens))
    if isinstance(node, Phrase):
        slop = f"~{node.slop}" if node.slop and len(node.tokens) > 1 else ""
        words = " ".join(node.tokens).replace("\\", "\\\\").replace('"', '\\"')
        return f'{_field(node.field)}"{words}"{slop}'
    if isinstance(node, Prefix):
        syntax = _QUERY_SYNTAX if _is_text(node.field) else _VALUE_SYNTAX
        return f"{_field(node.field)}{_escape(node.prefix, syntax=syntax)}*"
    if isinstance(node, Wildcard):
        syntax = _QUERY_SYNTAX if _is_text(node.field) else _VALUE_SYNTAX
        return _field(node.field) + _escape(node.pattern, keep="*?", syntax=syntax)
    if isinstance(node, Range):
        lower, upper = node.lower or "*", node.upper or "*"  # bounds hold no space, ] or } (lexer)
        opening, closing = "[" if node.include_lower else "{", "]" if node.include_upper else "}"
        return f"{_field(node.field)}{opening}{_quoted(lower) if node.lower else lower} TO " \
               f"{_quoted(upper) if node.upper else upper}{closing}"
    if isinstance(node, Exists):
        return f"{_field(node.field)}*"
    if isinstance(node, MatchAll):
        return "*:*"
    parts = []
    for clause in node.clauses:
        inner = to_query_string(clause.node)
        if isinstance(clause.node, BooleanNode):
            inner = f"({inner})"
        parts.append(clause.occur.value + inner)
    return " ".join(parts)


def to_es_query(query: str) -> dict[str, Any]:
    """The Elasticsearch query finding what the stream matcher matches for ``query``."""
    return {
        "query_string": {
            "query": to_query_string(parse(query)),
            "fields": [INDEX_FIELD_PREFIX + f for f in DEFAULT_FIELDS],
            "default_operator": "OR",
        }
    }
