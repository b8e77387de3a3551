"""Wirewatch's normalisation agrees with the real node's ``standard`` analyzer, in every script.

Two properties, on real-looking news text in 18 languages and on a fixed-seed
fuzz of mixed scripts, bidirectional marks, joiners, combining marks, emoji,
private-use and unassigned code points:

* ``tokenize(text)`` is what Lucene makes of the text (``_analyze`` with the
  ``standard`` analyzer: StandardTokenizer + LowerCaseFilter; the text in NFC,
  U+202F read as a space), then each token
  with its invisible marks dropped, folded by Lucene's ASCIIFoldingFilter table
  (the node has no asciifolding filter: the folding is applied to its tokens here),
  read again by the node, and its English possessive dropped;
* the node re-reading ``normalize(text)`` (what the indexer stores under
  ``search.*``) finds exactly ``normalize(text).split(" ")``: what the rule
  matcher sees is what the index holds.
"""

from __future__ import annotations

import json
import random
import unicodedata
from bisect import bisect_right
from pathlib import Path
from typing import Any

import pytest

from wirewatch.search.analysis import _INVISIBLE, normalize, tokenize
from wirewatch.search.lucene_tables import FOLD

pytestmark = pytest.mark.elastic

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "search" / "multilingual.jsonl"
ROWS: list[dict[str, str]] = [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines()]
LANGUAGES = {"zh", "ja", "ko", "ar", "fa", "he", "hi", "th", "ru", "uk", "el", "tr", "vi", "en"}
#: Texts per _analyze request: one round trip for many texts.
BATCH = 250


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def analyze(es: Any, texts: list[str]) -> list[list[str]]:
    """The node's standard-analyzer tokens of each text (many texts per request).

    An array ``text`` is analysed as one stream whose offsets (UTF-16 units) go
    on across values with one unit between them: each token is given back to
    the value its start offset falls in.
    """
    out: list[list[str]] = []
    for at in range(0, len(texts), BATCH):
        chunk = texts[at : at + BATCH]
        starts, offset = [], 0
        for text in chunk:
            starts.append(offset)
            offset += utf16_len(text) + 1
        result = await es.indices.analyze(analyzer="standard", text=chunk)
        tokens: list[list[str]] = [[] for _ in chunk]
        for token in result["tokens"]:
            tokens[bisect_right(starts, token["start_offset"]) - 1].append(token["token"])
        out.extend(tokens)
    return out


async def expected_tokens(es: Any, texts: list[str]) -> list[list[str]]:
    """The specification applied to the node's own tokens (see the module docstring)."""
    lucene = await analyze(es, [unicodedata.normalize("NFC", t).replace("\u202f", " ") for t in texts])
    folded = [
        " ".join("".join(FOLD.get(c, c) for c in _INVISIBLE.sub("", token)) for token in tokens)
        for tokens in lucene
    ]
    return [[t[:-2] if t.endswith("'s") else t for t in tokens] for tokens in await analyze(es, folded)]


async def assert_parity(es: Any, texts: list[str]) -> None:
    expected = await expected_tokens(es, texts)
    ours = [tokenize(t) for t in texts]
    differ = [(t, e, o) for t, e, o in zip(texts, expected, ours, strict=True) if e != o]
    assert differ == []
    normalized = [normalize(t) for t in texts]
    reread = await analyze(es, normalized)
    unread = [(n, r) for n, r in zip(normalized, reread, strict=True) if r != (n.split(" ") if n else [])]
    assert unread == []


async def test_news_in_every_language_is_analysed_as_elasticsearch_does(es_client: Any) -> None:
    assert {row["lang"] for row in ROWS} >= LANGUAGES
    texts = [row["text"] for row in ROWS]
    assert all(tokenize(t) for t in texts)  # every line has searchable words
    await assert_parity(es_client, texts)


#: Pieces of hostile and mixed text: scripts, joiners and marks the grammar treats specially.
PIECES = [
    *"aZé ß1٣۴१๓０.,:;'’\"_-/@#*", " ", "\n", "\t",
    *"ΣσςάЖжйїא״׳بپ",
    *"北京とうカターﾃｽﾄ한국ทยั้ເຂົ້າ", "นายก", "ကမ္ဘာ",
    "\u0301", "\u0308", "\u05b0", "\u064e", "\u093f", "\u0e31",  # combining marks
    "\u200d", "\u200c", "\u200e", "\u200f", "\u202a", "\u2066", "\u00ad", "\ufeff", "\u202f", "\u00a0",
    "😀", "👍", "🏽", "\ufe0f", "\ufe0e", "\u20e3", "🇺", "🇦", "ℹ", "Ⓜ", "🅰", "©", "🏴", "\U000e0067", "\U000e007f",
    "\ue000", "\U000f0000", "\u0378", "\U0003ffff", "\ufffd",  # private use, unassigned, replacement
    "𝐀", "𝟗", "𠀀", "𒀀", "①", "⑴", "⒈", "ﬁ", "ᴀ", "Ⅻ", "İ", "ı",
]


def hostile_text(rng: random.Random) -> str:
    length = rng.choice([1, 2, 3, 5, 8, 13, 30, 80])
    text = "".join(rng.choice(PIECES) if rng.random() < 0.85 else chr(rng.randrange(0x20, 0x32000))
                   for _ in range(length))
    if rng.random() < 0.05:  # a word beyond Lucene's 255-unit limit
        cut = rng.randrange(len(text) + 1)
        text = text[:cut] + rng.choice(["a", "é", "𝐀", "ﬁ", "ท", "1"]) * rng.randrange(120, 400) + text[cut:]
    # lone surrogates cannot be sent as JSON
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


async def test_hostile_text_is_analysed_as_elasticsearch_does(es_client: Any) -> None:
    rng = random.Random(20261204)
    await assert_parity(es_client, [hostile_text(rng) for _ in range(3000)])
