"""Which words of an item a query matched: ``<mark>`` in titles and snippets, and the SQLite
store's relevance score.

The matched words are the query's words as THE normalisation reads them
(:func:`wirewatch.search.analysis.tokenize`): ``Zelensky`` marks ``Zelenský``, ``москва``
marks ``Москва``, ``莫斯科`` marks each of its characters (one token each, as Lucene), a
phrase marks its words, ``zelensk*`` every word starting so. Words under ``NOT`` and
clauses on other fields (``source:``, ``entity:``) mark nothing in the text.

The text is split with Lucene's own tokenizer (:func:`lucene_tokens`, whose tokens are
pieces of the original text), each piece normalised alone and compared, so the marks sit
on the original characters whatever the script; everything else is escaped
(:func:`markupsafe.escape`): feed text is hostile.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from wirewatch.search.analysis import lucene_tokens, tokenize
from wirewatch.search.query import BooleanNode, Occur, Phrase, Prefix, Term, Wildcard, parse
from wirewatch.search.wildcard import WildcardPattern

#: Fields whose words show in the title and body text.
TEXT_FIELDS = (None, "title", "body")
#: The title counts this many times a body occurrence in :meth:`QueryTerms.score`.
TITLE_WEIGHT = 3.0


@dataclass(frozen=True)
class QueryTerms:
    """The positive words of a query on the text fields: exact tokens, prefixes, wildcards."""

    tokens: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    wildcards: tuple[str, ...] = ()
    _patterns: tuple[WildcardPattern, ...] = field(default=(), compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.tokens or self.prefixes or self.wildcards)

    def key(self, token: str) -> str | None:
        """The query word a normalised ``token`` stands for (the token, ``prefix*``, the pattern), or None."""
        if token in self.tokens:
            return token
        for prefix in self.prefixes:
            if token.startswith(prefix):
                return prefix + "*"
        for pattern, compiled in zip(self.wildcards, self._patterns, strict=True):
            if compiled.matches(token):
                return pattern
        return None

    def score(self, title_tokens: list[str], body_tokens: list[str]) -> float:
        """The SQLite store's relevance: per query word, ``3·ln(1+tf_title) + ln(1+tf_body)``, summed.

        Term frequency with a title weight, damped so a body repeating one word a hundred
        times does not beat a title naming every word; no document-length or rarity terms
        (Elasticsearch's BM25 has both, so the two stores rank alike only roughly).
        """
        counts: dict[str, list[int]] = {}
        for slot, tokens in ((0, title_tokens), (1, body_tokens)):
            for token in tokens:
                key = self.key(token)
                if key is not None:
                    counts.setdefault(key, [0, 0])[slot] += 1
        return sum(TITLE_WEIGHT * math.log1p(t) + math.log1p(b) for t, b in counts.values())


def terms_of(query: str) -> QueryTerms:
    """The words of ``query`` to mark (raises :class:`QuerySyntaxError` as :func:`parse`)."""
    tokens: set[str] = set()
    prefixes: set[str] = set()
    wildcards: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, BooleanNode):
            for clause in node.clauses:
                if clause.occur is not Occur.MUST_NOT:
                    walk(clause.node)
            return
        if getattr(node, "field", "-") not in TEXT_FIELDS:
            return
        if isinstance(node, Term | Phrase):
            tokens.update(node.tokens)
        elif isinstance(node, Prefix):
            prefixes.add(node.prefix)
        elif isinstance(node, Wildcard):
            wildcards.add(node.pattern)
        # other nodes (ranges, match-all, keyword fields) name no words of the text

    walk(parse(query))
    ordered = tuple(sorted(wildcards))
    return QueryTerms(frozenset(tokens), tuple(sorted(prefixes)), ordered,
                      tuple(WildcardPattern(p) for p in ordered))


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each Lucene token of ``text``: its tokens are pieces of the text, in order."""
    at = 0
    for token in lucene_tokens(text):
        start = text.find(token, at)
        if start < 0:  # cannot happen for a tokenizer that only cuts; never mark the wrong place
            return
        at = start + len(token)
        yield start, at


def marked_spans(text: str, terms: QueryTerms) -> list[tuple[int, int]]:
    """Spans of ``text`` holding a query word; touching spans merged (莫斯科 is one mark)."""
    if not terms or not text:
        return []
    found: list[tuple[int, int]] = []
    for start, end in _spans(text):
        if any(terms.key(token) is not None for token in tokenize(text[start:end])):
            if found and found[-1][1] == start:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
    return found


def _render(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> Markup:
    end = len(text) if end is None else end
    out: list[str] = []
    at = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(str(escape(text[at:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(str(escape(text[at:end])))
    return Markup("".join(out))


def highlight(text: str | None, terms: QueryTerms) -> Markup:
    """All of ``text``, escaped, with the query's words in ``<mark>``."""
    text = text or ""
    return _render(text, marked_spans(text, terms))


#: Characters of body text a snippet shows (about two lines on a phone, one on a desktop).
SNIPPET_CHARS = 220


def snippet(text: str | None, terms: QueryTerms, width: int = SNIPPET_CHARS) -> Markup:
    """About ``width`` characters of ``text`` around its first marked word, escaped and marked,
    with ``…`` where it was cut; the opening of the text when no word is marked."""
    text = " ".join((text or "").split())  # one line: newlines and runs of spaces read as one space
    spans = marked_spans(text, terms)
    if len(text) <= width:
        return _render(text, spans)
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 4)
    if start > 0:  # begin at a word: after the last space before the window
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    lead = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return Markup(lead) + _render(text, spans, start, end) + Markup(tail)

