"""THE text normalisation for matching and search: one function, two users.

The rule matcher tokenises with :func:`normalize`, and the indexer stores the
same normalised text under ``search.*`` in Elasticsearch. Because the output is
lowercase words separated by single spaces, the node's plain ``standard``
analyzer re-tokenises it identically, so parity holds on a minimal node without
the analysis-common module (no asciifolding, no possessive filter there).

Steps: fold to ASCII (NFKD, drop combining marks, plus letters NFKD leaves
alone: ß, æ, ø, ł, đ, þ, œ, ...), lowercase, drop the English possessive
(``'s``/``’s`` after a letter, as Lucene's EnglishPossessiveFilter), then split
into runs of letters and digits. Greek and Cyrillic letters are kept (lowercased,
Greek without accents); other scripts are not searchable yet.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

#: Lucene's standard tokenizer splits longer tokens at this length.
MAX_TOKEN_LENGTH = 255

_SPECIAL = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "œ": "oe", "Œ": "oe",
    "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t", "ŋ": "n", "Ŋ": "n", "ĸ": "k",
    "ſ": "s", "ƒ": "f", "ɐ": "a", "ς": "σ",
    # apostrophes: kept as ' so the possessive rule sees them, otherwise a separator
    "’": "'", "‘": "'", "ʼ": "'", "＇": "'", "′": "'",
}


def _keep_script(char: str) -> bool:
    """Greek and Cyrillic letters stay (Lucene's standard tokenizer keeps them whole)."""
    code = ord(char)
    return char.isalpha() and (
        0x0370 <= code <= 0x03FF or 0x1F00 <= code <= 0x1FFF  # Greek
        or 0x0400 <= code <= 0x052F or 0x1C80 <= code <= 0x1C8F  # Cyrillic
        or 0x2DE0 <= code <= 0x2DFF or 0xA640 <= code <= 0xA69F
    )


def _fold_char(char: str) -> str:
    """What one non-ASCII character becomes: ASCII letters/digits, a kept letter, '' or ' '."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf"):  # combining marks, soft hyphens, zero-width joiners
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(char))
    decomposed = "".join(
        _SPECIAL.get(c, c) for c in unicodedata.normalize("NFKD", char)
        if unicodedata.category(c) not in ("Mn", "Me")
    )
    if decomposed.isascii():
        return decomposed.lower()
    if all(_keep_script(c) for c in decomposed):
        return decomposed.lower().replace("ς", "σ")
    return " "


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled lazily: each distinct character is folded once."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = char if code < 128 else _fold_char(char)
        self[code] = folded
        return folded


_FOLD = _FoldTable()
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# an apostrophe-s after a letter, at the end of a word
# the literal first (re scans for it), not the lookbehind: 464k -> 252k instructions an item's tokens; tests/search/test_analysis_reference.py::test_tokenize_and_normalize_equal_the_reference_on_random_unicode_text
_POSSESSIVE = re.compile(r"'(?<=[^\W\d_]')s(?![^\W_])")
# the same on ASCII bytes before lowercasing (lowercasing ASCII changes no letter into a non-letter)
_POSSESSIVE_ASCII = re.compile(rb"'(?<=[A-Za-z]')[sS](?![A-Za-z0-9])")
_TOKEN = re.compile(r"[^\W_]+")
# ASCII fast path in one bytes.translate: letters lowercased, digits kept, everything else a space
# (with the fold-while-encoding below: 1,250k -> 252k instructions an item's tokens; tests/search/test_analysis_reference.py::test_pure_ascii_text_takes_the_same_path_to_the_same_tokens)
_ASCII_WORDS = bytes(
    b + 32 if 65 <= b <= 90 else b if chr(b).isascii() and chr(b).isalnum() else ord(" ")
    for b in range(256)
)
#: Texts at most this long (source names, tags, entity names) have their tokens cached: they repeat a lot.
_SHORT = 128
# short-text token cache: 276k -> 252k instructions an item's tokens (9%); tests/search/test_analysis_reference.py::test_tokenize_and_normalize_equal_the_reference_on_random_unicode_text, test_cached_short_texts_hand_out_fresh_lists
_SHORT_TOKENS: dict[str, list[str]] = {}
_CACHE_LIMIT = 50_000


def _fold_run(match: re.Match[str]) -> str:
    return match.group().translate(_FOLD)


class _KeptScript(Exception):
    """A run of non-ASCII text folds to Greek or Cyrillic letters: the general path handles it."""


def _fold_to_ascii(exc: UnicodeError) -> tuple[str, int]:
    """``str.encode`` error handler: each run of non-ASCII characters becomes its ASCII fold."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    folded = exc.object[exc.start : exc.end].translate(_FOLD)
    if not folded.isascii():
        raise _KeptScript
    return folded, exc.end


_FOLD_ERRORS = "wirewatch.fold-to-ascii"
codecs.register_error(_FOLD_ERRORS, _fold_to_ascii)


def _split_long(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.extend(token[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(token), MAX_TOKEN_LENGTH))
    return out


def _may_hold_long_token(words: str) -> bool:
    """Could space-separated ``words`` hold a token longer than ``MAX_TOKEN_LENGTH``?

    Such a token covers a whole aligned block of half that length, so blocks
    without a space are the only suspects: a dozen ``find`` calls for a
    1.5 KB body instead of measuring every token.
    """
    # instead of measuring every token: 319k -> 252k instructions an item's tokens; tests/search/test_analysis_reference.py::test_long_tokens_are_cut_wherever_they_sit_in_the_text
    half = (MAX_TOKEN_LENGTH + 1) // 2
    find = words.find
    for start in range(0, len(words) - half + 1, half):
        if find(" ", start, start + half) < 0:
            return True
    return False


def _ascii_tokens(data: bytes) -> list[str]:
    """Tokens of ASCII ``data`` (folded, not yet lowercased)."""
    data = _POSSESSIVE_ASCII.sub(b"", data)
    words = data.translate(_ASCII_WORDS).decode("ascii")
    tokens = words.split()
    if len(words) > MAX_TOKEN_LENGTH and _may_hold_long_token(words):
        tokens = _split_long(tokens)
    return tokens


def _general_tokens(text: str) -> list[str]:
    """Any text, Greek and Cyrillic letters included: fold, lowercase, possessive, split."""
    text = _POSSESSIVE.sub("", _NON_ASCII.sub(_fold_run, text).lower())
    tokens = _TOKEN.findall(text)
    if tokens and max(map(len, tokens)) > MAX_TOKEN_LENGTH:
        tokens = _split_long(tokens)
    return tokens


def _compute_tokens(text: str) -> list[str]:
    if text.isascii():
        return _ascii_tokens(text.encode("ascii"))
    # fold while encoding, not the general path: 636k -> 252k instructions an item's tokens (bench items, 38% with non-ASCII); tests/search/test_analysis_reference.py::test_tokenize_and_normalize_equal_the_reference_on_random_unicode_text
    try:  # folds in C except for one call per run of non-ASCII characters
        data = text.encode("ascii", _FOLD_ERRORS)
    except _KeptScript:
        return _general_tokens(text)
    return _ascii_tokens(data)


def _shared_tokens(text: str) -> list[str]:
    """:func:`tokenize`, but a short text's list is shared from the cache: callers must not mutate it."""
    if len(text) > _SHORT:
        return _compute_tokens(text)
    tokens = _SHORT_TOKENS.get(text)
    if tokens is None:
        if len(_SHORT_TOKENS) > _CACHE_LIMIT:
            _SHORT_TOKENS.clear()
        tokens = _SHORT_TOKENS[text] = _compute_tokens(text)
    return tokens


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``: folded, lowercased, possessives dropped (``normalize(text).split()``).

    Tokenising is compositional over separators: ``tokenize(a + "\\n" + b) ==
    tokenize(a) + tokenize(b)``, so a caller holding the tokens of the title and
    of the body need not tokenise their concatenation again.
    """
    if not text:
        return []
    if len(text) <= _SHORT:
        return list(_shared_tokens(text))
    return _compute_tokens(text)


def normalize(text: str) -> str:
    """Tokens of ``text`` joined by single spaces: what Elasticsearch indexes under ``search.*``."""
    return " ".join(_shared_tokens(text)) if text else ""


Tokenizer = Callable[[str], list[str]]


def _value_tokens(raw: Any, tokens_of: Tokenizer = tokenize) -> list[list[str]]:
    """Token lists of the non-empty values of a list (empty values would only shift positions)."""
    if not raw:
        return []
    out = []
    for value in raw if isinstance(raw, list | tuple) else (raw,):
        if value is not None:
            tokens = tokens_of(value if isinstance(value, str) else str(value))
            if tokens:
                out.append(tokens)
    return out


#: Fields holding several values (a list in the index, 100 positions between values).
LIST_FIELDS = ("source", "entity", "tags")


def _entity_tokens(entities: Any, tokens_of: Tokenizer) -> list[list[str]]:
    """Token lists of the entities' names (the ``entity`` search field)."""
    if not entities:
        return []
    return _value_tokens([e.get("name") for e in entities if isinstance(e, dict)], tokens_of)


def _search_tokens(item: Mapping[str, Any], tokens_of: Tokenizer) -> dict[str, list[list[str]]]:
    source = item.get("source") or {}
    if not isinstance(source, dict):
        source = {"id": source}
    # title and body not in the short-text cache: 3% fewer cache misses; tests/search/test_analysis_reference.py::test_shared_search_tokens_equal_search_tokens
    return {
        "title": [_compute_tokens(item.get("title") or "")],
        "body": [_compute_tokens(item.get("body") or "")],
        "source": _value_tokens((source.get("id"), source.get("name")), tokens_of),
        "entity": _entity_tokens(item.get("entities"), tokens_of),
        "tags": _value_tokens(item.get("tags"), tokens_of),
        "language": [tokens_of(item.get("language") or "")],
    }


def search_tokens(item: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Per search field, the token list of each value: what :func:`search_fields` joins.

    The matcher uses this directly to skip re-splitting the joined text.
    """
    return _search_tokens(item, tokenize)


def shared_search_tokens(item: Mapping[str, Any]) -> dict[str, list[list[str]]]:
    """:func:`search_tokens` for read-only use: short values' lists come shared from the
    token cache (no copies), so callers must not mutate them. The matcher's fast path."""
    return _search_tokens(item, _shared_tokens)


def entity_tokens(entities: list[dict[str, Any]]) -> list[list[str]]:
    """``shared_search_tokens(item)["entity"]`` of an item with these entities (read-only lists)."""
    return _entity_tokens(entities, _shared_tokens)


def search_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The normalised copies indexed under ``search.*`` and matched by rules.

    Works on raw and processed items (``entities`` is optional). List fields
    keep one entry per value, so phrases don't run from one value into the next.
    """
    out: dict[str, Any] = {}
    for field, values in search_tokens(item).items():
        joined = [" ".join(tokens) for tokens in values]
        out[field] = joined if field in LIST_FIELDS else joined[0]
    return out
