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

Rejected with position (1-based character) and reason: empty query or group,
unbalanced quotes or parentheses, dangling operators, unknown fields, leading
wildcards (``*ab``: unindexable, and usually a mistake), and syntax this tool
does not support (fuzzy ``a~``, boosts ``^``, ranges, regular expressions).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wirewatch.search.analysis import CHARACTER_TOKEN, tokenize

#: Field names usable in a query -> the normalised field they search.
FIELDS = {
    "title": "title", "body": "body", "source": "source", "entity": "entity",
    "tags": "tags", "tag": "tags", "language": "language",
}
#: Searched when a clause names no field (Elasticsearch: ``fields`` of query_string).
DEFAULT_FIELDS = ("title", "body")
#: Where :func:`wirewatch.search.analysis.search_fields` lives in the index.
INDEX_FIELD_PREFIX = "search."


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


Node = Term | Phrase | Prefix | Wildcard | BooleanNode


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


# the parser's enum members as module globals: a member read through its class costs
# ~40 ns in 3.11, ~4 ns as a global (parse of 100k bench rules 1.31 -> 1.05 s CPU)
_TERM, _PHRASE, _LPAREN, _RPAREN, _EOF, _TILDE = _K.TERM, _K.PHRASE, _K.LPAREN, _K.RPAREN, _K.EOF, _K.TILDE
_AND, _OR, _PLUS, _MINUS, _NOT, _COLON = _K.AND, _K.OR, _K.PLUS, _K.MINUS, _K.NOT, _K.COLON
_ENDS, _CONJUNCTIONS, _MODIFIERS, _OPERANDS = (_EOF, _RPAREN), (_AND, _OR), (_PLUS, _MINUS, _NOT), (_TERM, _PHRASE, _LPAREN)
_MUST, _SHOULD, _MUST_NOT = Occur.MUST, Occur.SHOULD, Occur.MUST_NOT

_SPECIAL = set(' \t\n\r\u3000+-!():^[]"{}~/\\')
_UNSUPPORTED = {
    "^": "boosts (^) are not supported",
    "[": "ranges are not supported",
    "]": "ranges are not supported",
    "{": "ranges are not supported",
    "}": "ranges are not supported",
    "/": "regular expressions are not supported (escape / as \\/)",
}
_PUNCTUATION = {"(": _K.LPAREN, ")": _K.RPAREN, "+": _K.PLUS, "-": _K.MINUS, "!": _K.NOT, ":": _K.COLON}
_OPERATORS = {"AND": _K.AND, "&&": _K.AND, "OR": _K.OR, "||": _K.OR, "NOT": _K.NOT}
#: A term up to the next special character (+ and - allowed after its first character): what
#: the character loop below reads when the term holds no escape or wildcard. Plain-term regex:
#: lexing 100k bench rules 0.76 -> 0.55 s CPU (bench rules.startup_s_100k);
#: tests/search/test_query.py::test_plain_term_fast_path_lexes_as_the_character_loop
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
        elif c == "~":
            j = i + 1
            while j < n and (query[j].isdigit() or query[j] == "."):
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
    def __init__(self, query: str) -> None:
        self.toks = _lex(query)
        self.i = 0

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
            if name not in FIELDS:
                raise QuerySyntaxError(
                    tok.pos + 1, f"unknown field {name!r} (use {', '.join(sorted(FIELDS))})"
                )
            field = FIELDS[name]
            self.take()
            colon = self.take()
            tok = self.peek()
            if tok.kind not in _OPERANDS:
                raise QuerySyntaxError(
                    colon.pos + 1, f"{name}: must be followed by a term, phrase or group"
                )
        if tok.kind is _LPAREN:
            self.take()
            node = self.query(field, tok)
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
                if not tilde.text.isdigit():
                    raise QuerySyntaxError(
                        tilde.pos + 1, 'proximity needs a whole number, e.g. "a b"~3'
                    )
                slop = int(tilde.text)
            if not tok.text.strip():
                raise QuerySyntaxError(tok.pos + 1, "empty phrase")
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


@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    """Normalised words, cached: rules repeat their words (100k rules, a few thousand words)."""
    return tuple(tokenize(text))


@lru_cache(maxsize=1 << 16)
def _plain_term(text: str, field: str | None) -> Term | None:
    """One shared (immutable) node per word and field."""
    tokens = _tokens(text)
    return Term(text, tokens, field) if tokens else None


def _term(tok: _Tok, field: str | None) -> Node | None:
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
    text = "".join(pattern)
    if not text or text[0] in "*?":
        raise QuerySyntaxError(tok.pos + 1, f"leading wildcard in {tok.text!r} is not allowed")
    stripped = text.rstrip("*")
    if "*" not in stripped and "?" not in stripped:
        return Prefix(stripped, field)
    return Wildcard(text, field)


def parse(query: str) -> Node:
    """Parse a Lucene query string into a resolved, normalised tree."""
    return _Parser(query).parse()


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
    return f"{INDEX_FIELD_PREFIX}{field}:" if field else ""


# Lucene's QueryParser.escape: tokens may hold query syntax (a:b, Hebrew צה"ל, don't is fine)
_QUERY_SYNTAX = re.compile(r'([\\+\-!():^\[\]"{}~*?|&/])')


def _escape(token: str, keep: str = "") -> str:
    return _QUERY_SYNTAX.sub(lambda m: m.group() if m.group() in keep else "\\" + m.group(), token)


def to_query_string(node: Node) -> str:
    """Render for Elasticsearch ``query_string``: ``search.*`` fields, normalised words,
    explicit ``+``/``-`` per clause (so no operator quirk is applied twice)."""
    if isinstance(node, Term):
        return _field(node.field) + "\\ ".join(map(_escape, node.tokens))
    if isinstance(node, Phrase):
        slop = f"~{node.slop}" if node.slop and len(node.tokens) > 1 else ""
        words = " ".join(node.tokens).replace("\\", "\\\\").replace('"', '\\"')
        return f'{_field(node.field)}"{words}"{slop}'
    if isinstance(node, Prefix):
        return f"{_field(node.field)}{_escape(node.prefix)}*"
    if isinstance(node, Wildcard):
        return _field(node.field) + _escape(node.pattern, keep="*?")
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
