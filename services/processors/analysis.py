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

import re
import unicodedata
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
_RUNS: dict[str, str] = {}  # folded runs of non-ASCII characters (names repeat a lot)
# an apostrophe-s after a letter, at the end of a word; the literal first keeps the scan fast
_POSSESSIVE = re.compile(r"'(?<=[^\W\d_]')s(?![^\W_])")
_TOKEN = re.compile(r"[^\W_]+")
# ASCII fast path: letters and digits stay, everything else separates words
_ASCII_WORDS = bytes(
    b if chr(b).isascii() and chr(b).isalnum() else ord(" ") for b in range(256)
)


def _fold_run(match: re.Match[str]) -> str:
    run = match.group()
    folded = _RUNS.get(run)
    if folded is None:
        if len(_RUNS) > 50_000:
            _RUNS.clear()
        folded = _RUNS[run] = run.translate(_FOLD)
    return folded


def _split_long(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.extend(token[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(token), MAX_TOKEN_LENGTH))
    return out


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``: folded, lowercased, possessives dropped (``normalize(text).split()``)."""
    if not text:
        return []
    if not text.isascii():
        text = _NON_ASCII.sub(_fold_run, text)
    text = text.lower()
    if "'" in text:
        text = _POSSESSIVE.sub("", text)
    if text.isascii():
        tokens = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    else:  # Greek or Cyrillic letters left
        tokens = _TOKEN.findall(text)
    if tokens and max(map(len, tokens)) > MAX_TOKEN_LENGTH:
        tokens = _split_long(tokens)
    return tokens


def normalize(text: str) -> str:
    """Tokens of ``text`` joined by single spaces: what Elasticsearch indexes under ``search.*``."""
    return " ".join(tokenize(text))


def _value_tokens(raw: Any) -> list[list[str]]:
    """Token lists of the non-empty values of a list (empty values would only shift positions)."""
    if not raw:
        return []
    values = raw if isinstance(raw, list | tuple) else [raw]
    return [tokens for tokens in (tokenize(str(v)) for v in values if v is not None) if tokens]


#: Fields holding several values (a list in the index, 100 positions between values).
LIST_FIELDS = ("source", "entity", "tags")


def search_tokens(item: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Per search field, the token list of each value: what :func:`search_fields` joins.

    The matcher uses this directly to skip re-splitting the joined text.
    """
    source = item.get("source") or {}
    if not isinstance(source, dict):
        source = {"id": source}
    entities = item.get("entities") or []
    return {
        "title": [tokenize(item.get("title") or "")],
        "body": [tokenize(item.get("body") or "")],
        "source": _value_tokens([source.get("id"), source.get("name")]),
        "entity": _value_tokens([e.get("name") for e in entities if isinstance(e, dict)]),
        "tags": _value_tokens(item.get("tags")),
        "language": [tokenize(item.get("language") or "")],
    }


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
