"""analysis fast paths (findall, whole-string lowercasing and folding, re-splitting only
when folding may need it, token cache) agree with the plain specification.

The reference below is the normalisation written as its docstring says, token by
token: NFC, Lucene's tokens (longest match, cut at 255 units), invisible marks
dropped, each character lowercased as Java and folded as ASCIIFoldingFilter,
always split again, possessive dropped. Random Unicode-heavy strings (fixed
seed) go through both.
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from typing import Any

import pytest

from wirewatch.search.analysis import (
    _INVISIBLE,
    _slow_tokens,
    lucene_tokens,
    normalize,
    search_fields,
    search_tokens,
    shared_search_tokens,
    tokenize,
)
from wirewatch.search.lucene_tables import FOLD, LOWER

# characters the fast paths treat specially, plus the scripts, joiners and marks the grammar knows
ALPHABET = [
    *"aAbBsSxXzZ0159  \n\t.,:;-_/'\"",
    *"’‘ʼ＇′",  # apostrophes
    *"“”„‚–—…«»·．，：；＿\u00a0",  # separators and joiners that fold to ASCII punctuation
    *"éÉüñçøØßẞæœłđþıİſKᴀ",
    "\u0301", "\u0308", "\u00ad", "\u200d", "\u200c", "\u200e", "\u00a0", "\u202f", "\u2014",
    *"ΣσςάΩΐЖжЁїй",  # Greek and Cyrillic
    *"北京東とう카한国カターทยั้אב״׳٣۱ا",  # Han, kana, Hangul, Thai, Hebrew, Arabic digits
    "①", "⑴", "⒈", "Ⅻ", "ﬁ", "ＦＵ", "１", "𝟗", "😀", "👍", "🏽", "\ufe0f", "\u20e3", "#", "🇺", "🇦", "ℹ", "Ⓜ",
    "\U000e0067", "\U000e007f", "\ue000", "\u0378", "𠀀",
]


def java_lower(text: str) -> str:
    return "".join(LOWER.get(c, c.lower()) for c in text)


def reference_tokens(text: str) -> list[str]:
    out = []
    for token in _slow_tokens(unicodedata.normalize("NFC", text).replace("\u202f", " ")):
        folded = "".join(FOLD.get(c, c) for c in java_lower(_INVISIBLE.sub("", token)))
        for piece in _slow_tokens(folded):
            piece = java_lower(piece)
            out.append(piece[:-2] if piece.endswith("'s") else piece)
    return out


def random_text(rng: random.Random) -> str:
    length = rng.choice([1, 2, 5, 20, 60, 127, 128, 129, 400, 1500])
    chars = [
        rng.choice(ALPHABET) if rng.random() < 0.8 else chr(rng.randrange(0x20, 0x30000))
        for _ in range(length)
    ]
    text = "".join(chars)
    if rng.random() < 0.1:  # a word longer than Lucene's limit, somewhere in the text
        cut = rng.randrange(len(text) + 1)
        text = text[:cut] + rng.choice(["a", "é", "1", "ﬁ", "北", "ท", "😀", "𝟗"]) * rng.randrange(100, 700) + text[cut:]
    return text


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rng = random.Random(20240611)
    return [random_text(rng) for _ in range(3000)]


def test_tokenize_and_normalize_equal_the_reference_on_random_unicode_text(texts: list[str]) -> None:
    for text in texts:
        expected = reference_tokens(text)
        assert tokenize(text) == expected, text
        assert normalize(text) == " ".join(expected), text


def test_normalized_text_tokenises_back_into_its_own_tokens(texts: list[str]) -> None:
    """What the index relies on: the standard analyzer re-reading ``normalize(text)`` finds its tokens."""
    for text in texts:
        normalized = normalize(text)
        assert [java_lower(t) for t in lucene_tokens(normalized)] == tokenize(text), text


def test_pure_ascii_text_takes_the_same_path_to_the_same_tokens(texts: list[str]) -> None:
    for text in texts:
        ascii_text = text.encode("ascii", "ignore").decode("ascii")
        assert tokenize(ascii_text) == reference_tokens(ascii_text), ascii_text


def test_tokenising_is_compositional_over_a_newline(texts: list[str]) -> None:
    """What the pipeline relies on to tokenise title, summary and body once per item."""
    for a, b in itertools.pairwise(texts):
        assert tokenize(f"{a}\n{b}") == tokenize(a) + tokenize(b), (a, b)


def test_long_tokens_are_cut_wherever_they_sit_in_the_text() -> None:
    for offset in range(0, 300, 7):
        for size in (255, 256, 383, 384, 511, 512, 700):
            text = "x " * offset + "a" * size + " y"
            cut = ["a" * 255] * (size // 255) + (["a" * (size % 255)] if size % 255 else [])
            assert tokenize(text) == ["x"] * offset + cut + ["y"], (offset, size)


def test_long_tokens_are_cut_at_255_utf16_units_and_the_rest_read_afresh() -> None:
    assert tokenize("𝐀" * 200) == ["𝐀" * 127, "𝐀" * 73]  # astral letters count two units
    assert tokenize("a" * 254 + "'b") == ["a" * 254, "b"]  # the cut falls after the last whole token
    assert tokenize("ﬁ" * 200) == ["fi" * 127 + "f", "i" + "fi" * 72]  # folding lengthens: cut again


def test_cached_short_texts_hand_out_fresh_lists() -> None:
    first = tokenize("Zelenskyy’s Visit")
    first.append("mutated")
    assert tokenize("Zelenskyy’s Visit") == ["zelenskyy", "visit"]
    assert search_tokens({"title": "Zelenskyy’s Visit"})["title"] == [["zelenskyy", "visit"]]


def test_shared_search_tokens_equal_search_tokens(texts: list[str]) -> None:
    rng = random.Random(7)
    for n in range(300):
        body = rng.choice(texts)
        item: dict[str, Any] = {
            "title": rng.choice(texts), "body": body,
            "source": rng.choice([{"id": "bbc", "name": rng.choice(texts)}, "afp", None]),
            "entities": [{"name": rng.choice(texts)} for _ in range(rng.randint(0, 4))] + [None],
            "tags": [rng.choice(texts), "", None, 7][: rng.randint(0, 4)],
            "language": rng.choice(["en", "EN", None]),
        }
        assert shared_search_tokens(item) == search_tokens(item), n
        fields = search_fields(item)
        assert fields["body"] == " ".join(reference_tokens(body))
