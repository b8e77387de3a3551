"""Dedupe's shingle hashes in Rust (``wirewatch_native.Shingler``) give exactly the signatures
and sizes of the numpy batch path they replaced, kept here as the oracle (:func:`numpy_signatures_and_sizes`,
dedupe.py's code before the move, with the plain dict cache it used)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from rensa import RMinHash

from wirewatch.processors import dedupe
from wirewatch.processors.dedupe import (
    MAX_TOKENS,
    NUM_PERM,
    WORD_SHINGLE,
    _unit_hashes,
    item_tokens,
    signatures_and_sizes,
)

MULTILINGUAL = Path(__file__).parents[1] / "fixtures" / "processors" / "dedupe_pairs_multilingual.jsonl"
PAIRS = Path(__file__).parents[1] / "fixtures" / "processors" / "dedupe_pairs.jsonl"

U64 = np.uint64
MIX1, MIX2 = U64(0x9E3779B97F4A7C15), U64(0xC2B2AE3D27D4EB4F)
S33, FMIX1, FMIX2 = U64(33), U64(0xFF51AFD7ED558CCD), U64(0xC4CEB9FE1A85EC53)


def numpy_signatures_and_sizes(token_lists: Sequence[Sequence[str]]) -> tuple[npt.NDArray[np.uint32], list[int]]:
    """The former batch path: token hashes joined from a dict, the shingle mix, fit mask,
    short-text hash and fmix64 in numpy uint64, then rensa."""
    cache = {token: _unit_hashes(token) for tokens in token_lists for token in tokens[:MAX_TOKENS]}
    per_text = [b"".join(cache[token] for token in tokens[:MAX_TOKENS]) for tokens in token_lists]
    lengths = np.fromiter(map(len, per_text), dtype=np.intp, count=len(per_text)) // 8
    h = np.frombuffer(b"".join(per_text), dtype="<u8").astype(U64, copy=False)
    n = len(h)
    extra = (h >> U64(32)).astype(np.intp)
    mixed = np.zeros(n, dtype=U64)
    if n >= 2:
        two = h[:-1] * MIX1 + h[1:]
        mixed[:-1] = two
        if n >= 3:
            np.copyto(mixed[:-2], two[:-1] * MIX1 + h[2:], where=extra[:-2].astype(bool))
    ends = np.repeat(np.cumsum(lengths), lengths)
    fits = np.arange(n) + WORD_SHINGLE + extra <= ends
    kept = mixed[fits]
    before = np.concatenate(([0], np.cumsum(fits)))
    parts, offsets, start = [], [0], 0
    for size in lengths.tolist():
        first, last = before[start], before[start + size]
        short = h[start : start + size].sum(dtype=U64, keepdims=True) * MIX2 + U64(size)
        parts.append(kept[first:last] if last > first else short)
        offsets.append(offsets[-1] + len(parts[-1]))
        start += size
    out = np.concatenate(parts) if parts else h[:0].copy()
    out ^= out >> S33
    out *= FMIX1
    out ^= out >> S33
    out *= FMIX2
    out ^= out >> S33
    rows = RMinHash.digest_matrix_from_flat_token_hashes(out, offsets, NUM_PERM, 1).to_rows()
    return np.array(rows, dtype=np.uint32), [b - a for a, b in itertools.pairwise(offsets)]


THAI_RUN = "การประชุมสภาผู้แทนราษฎรลงมติเลือกนายกรัฐมนตรีคนใหม่วันนี้"
KINDS: dict[str, list[list[str]]] = {
    "ascii": [["court", "issues", "arrest", "warrant", "for", "former", "minister"]],
    "latin_cyrillic_arabic": [["zürich", "bürgermeister", "москва", "кремль", "الرئيس", "يزور", "القاهرة"]],
    "cjk": [list("习近平抵达莫斯科开始国事访问"), ["東", "京", "で", "ロシア", "の", "首", "相", "と", "会", "談"]],
    "thai_runs": [[THAI_RUN], ["ข่าว", THAI_RUN, "bangkok", "ไทย"]],
    "khmer_lao_myanmar": [["ព្រះរាជាណាចក្រកម្ពុជា", "ສປປລາວ", "မြန်မာနိုင်ငံ"]],
    "one_token": [["alone"], ["東"], ["ไทย"], [""], ["x" * 5000]],
    "two_units_one_char": [["w1", "東"], ["東", "と"], ["ロシア", "w1"]],
    "empty": [[]],
    "longer_than_max_tokens": [[f"w{i % 97}" for i in range(MAX_TOKENS * 3)], ["ไทย"] * (MAX_TOKENS + 7)],
    "emoji_and_numbers": [["2024", "🔥", "3", "—", "🇺🇦"]],
}


def real_token_lists() -> list[list[str]]:
    """Tokens of the labelled pairs: 14 languages, every script the fixtures hold."""
    out = []
    for path in (MULTILINGUAL, PAIRS):
        for line in path.read_text("utf-8").splitlines():
            pair = json.loads(line)
            out += [item_tokens(pair["a"]), item_tokens(pair["b"])]
    return out


def assert_identical(token_lists: Sequence[Sequence[str]]) -> None:
    matrix, sizes = signatures_and_sizes(token_lists)
    expected_matrix, expected_sizes = numpy_signatures_and_sizes(token_lists)
    assert matrix.dtype == np.uint32 and matrix.shape == (len(token_lists), NUM_PERM)
    assert sizes == expected_sizes
    assert (matrix == expected_matrix).all()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_text_gets_the_numpy_signature_and_size(kind: str) -> None:
    assert_identical(KINDS[kind])


def test_every_kind_in_one_batch() -> None:
    everything = [tokens for lists in KINDS.values() for tokens in lists]
    assert_identical(everything)
    assert_identical(everything[::-1])


def test_real_texts_of_14_languages_in_batches_of_16(monkeypatch: pytest.MonkeyPatch) -> None:
    lists = real_token_lists()
    assert len(lists) > 600
    for start in range(0, len(lists), 16):
        assert_identical(lists[start : start + 16])
    monkeypatch.setattr(dedupe, "_MAX_CACHED", 50)  # the cache emptied many times a batch
    assert_identical(lists[:64])


def test_tuples_and_iterators_are_texts_too() -> None:
    lists = [["court", "issues", "warrant"], ["東", "京", "で"]]
    assert (signatures_and_sizes([tuple(t) for t in lists])[0] == signatures_and_sizes(lists)[0]).all()
    assert (signatures_and_sizes(iter([iter(t) for t in lists]))[0] == signatures_and_sizes(lists)[0]).all()  # type: ignore[arg-type]


def test_a_token_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        signatures_and_sizes([["court", 3]])  # type: ignore[list-item]
