"""Fuzzing THE normalisation (issue 16): ``normalize``/``tokenize`` never raise on any text and
keep their contract: non-empty tokens of at most MAX_TOKEN_LENGTH characters without spaces,
``normalize`` is the tokens joined by one space, and normalising twice changes nothing (the
indexed ``search.*`` text must re-tokenise to itself in Elasticsearch).

Text is any Unicode but lone surrogates (a ``str`` from a feed is decoded text, where they
can't occur), with extra weight on what breaks text code: private-use and unassigned code
points, RTL and bidi controls, ZWJ/ZWNJ, combining marks, apostrophes, long runs.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.search.analysis import MAX_TOKEN_LENGTH, normalize, tokenize

TROUBLE = [
    "\u200d", "\u200c", "\u200f", "\u200e", "\u202e", "\u2066", "\u2069", "\u061c", "\ufeff", "\u00ad",
    "\ue000", "\U000f0000", "\U0010fffd", "\u0378", "\U000e0001", "\U0001f468\u200d\U0001f469",
    "\u0301", "\u0338", "\u20dd", "'", "’", "'s", "’S", "ß", "ς", "İ", "ŉ", "ǅ", "ﬁ", "㎏", "①", "½",
    "٣", "𝟗", "\u3000", "\x00", "\x85", "\u2028", " ", "\t", "\n",
]
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=400)
troubled = st.lists(
    st.sampled_from(TROUBLE) | st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
    | st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "ж", "ζ", "9", "ǆ"]), st.integers(1, 700)),
    max_size=30,
).map("".join)
texts = any_text | troubled


@given(text=texts)
@settings(max_examples=5 * settings().max_examples)
def test_normalize_and_tokenize_keep_their_contract_on_any_text(text: str) -> None:
    tokens = tokenize(text)
    assert all(0 < len(t) <= MAX_TOKEN_LENGTH and t == "".join(t.split()) for t in tokens)
    normalised = normalize(text)
    assert normalised == " ".join(tokens)
    if unicodedata.is_normalized("NFC", normalised):
        assert normalize(normalised) == normalised
        assert tokenize(normalised) == tokens
    # else folding left a combining mark where NFC composes it again (À + U+0300 -> a + U+0300):
    # Lucene keeps such a token as folded, and so do we (the index re-reads it unchanged:
    # tests/search/test_elastic_analysis.py), so normalising again would differ


@given(left=texts, right=texts)
@settings(max_examples=settings().max_examples)
def test_tokenizing_is_compositional_over_a_line_break(left: str, right: str) -> None:
    """As documented on :func:`tokenize`: the indexer relies on it for title + body."""
    assert tokenize(left + "\n" + right) == tokenize(left) + tokenize(right)
