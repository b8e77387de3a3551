"""analysis fast paths (ASCII bytes, fold-while-encoding, token cache) agree with the plain specification.

The reference below is the normalisation written as its docstring says: fold
each character (the same per-character table), lowercase, drop the English
possessive, split into runs of letters and digits, cut tokens at Lucene's
maximum length. Random Unicode-heavy strings (fixed seed) go through both.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

import pytest

from wirewatch.search.analysis import (
    MAX_TOKEN_LENGTH,
    _fold_char,
    normalize,
    search_fields,
    search_tokens,
    shared_search_tokens,
    tokenize,
)

POSSESSIVE = re.compile(r"(?<=[^\W\d_])'s(?![^\W_])")
WORD = re.compile(r"[^\W_]+")

# characters the fast paths treat specially, plus the scripts and marks the folding knows
ALPHABET = [
    *"aAbBsSxXzZ0159  \n\t.,-_/'",
    *"’‘ʼ＇′",  # apostrophes
    *"éÉüñçøØßẞæœłđþıİſK",
    "\u0301", "\u0308", "\u00ad", "\u200d", "\u00a0", "\u2014",  # marks, soft hyphen, ZWJ, nbsp, dash
    *"ΣσςάΩΐЖжЁї",  # Greek and Cyrillic stay
    "北", "東", "ا", "٣", "①", "Ⅻ", "ﬁ", "ＦＵ", "𝟗", "😀", "\ud800",  # other scripts, compat forms
]


def reference_tokens(text: str) -> list[str]:
    folded = "".join(c if ord(c) < 128 else _fold_char(c) for c in text).lower()
    words = WORD.findall(POSSESSIVE.sub("", folded))
    return [w[i : i + MAX_TOKEN_LENGTH] for w in words for i in range(0, len(w), MAX_TOKEN_LENGTH)]


def random_text(rng: random.Random) -> str:
    length = rng.choice([1, 2, 5, 20, 60, 127, 128, 129, 400, 1500])
    chars = [
        rng.choice(ALPHABET) if rng.random() < 0.8 else chr(rng.randrange(0x20, 0x30000))
        for _ in range(length)
    ]
    text = "".join(chars)
    if rng.random() < 0.1:  # a word longer than Lucene's limit, somewhere in the text
        cut = rng.randrange(len(text) + 1)
        text = text[:cut] + rng.choice("aé") * rng.randrange(200, 700) + text[cut:]
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
