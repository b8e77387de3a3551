"""Dedupe: one verdict per item, with ``of`` naming the first item of the story.

An exact re-delivery (same item id, same text) gets the verdict it got the
first time: Kafka delivery is at-least-once, and a replay must not make an
item a duplicate of itself. Identity decides before similarity: a live-blog block, an item id or a
canonical URL seen before makes the item a ``duplicate`` (same text) or an
``update`` (changed text). Only then is the text compared: identical
normalised text is a ``duplicate``, high MinHash similarity (LSH candidates,
verified against the stored signature) a ``near_duplicate``.

All state lives in a plain ``MutableMapping[str, JSON]`` so the same code runs
over a dict (CLI), a Faust table (production) or a SQLite key-value table
(embedded mode). Every record carries its time and is ignored, then purged,
once it falls out of the window.

Shingles work in every script (:func:`shingles`): words where a script spaces its words,
characters where it does not (Han, Kana, Thai, Lao, Khmer, Myanmar); a shingle is 2
consecutive words or 3 consecutive characters. A text with no letter (empty, or only
numbers, emoji and punctuation) has no text identity at all: no exact-text hash and no
signature, so it is ``new`` unless its id, URL or live-blog block was seen.

Why MinHash/LSH rather than SimHash: on ``tests/fixtures/processors/dedupe_pairs.jsonl``
MinHash Jaccard over word shingles separates mirrors with bylines and
"continue reading" tails from same-event-different-text stories better than
64-bit SimHash, and its banded index needs only exact key look-ups, which
every key-value store offers (see ``tests/processors/test_dedupe.py``). Threshold,
shingle length and banding are measured on the short items of 14 languages in
``tests/fixtures/processors/dedupe_pairs_multilingual.jsonl``
(``tests/processors/test_dedupe_multilingual.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
import zlib
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from rensa import RMinHash

import wirewatch_native
from wirewatch.search.analysis import tokenize

Status = Literal["new", "duplicate", "near_duplicate", "update"]

#: Measured on the labelled pairs (see the module docstring and the README's dedupe section):
#: mirrors sit at exact J >= 0.44 (short items under a byline, dateline, tail and editor's tag
#: as long as the story), other stories at J <= 0.30 (short, also under the same outlet's
#: furniture) and 0.35 (long, sharing a sentence). Every script and language meets precision
#: and recall >= 0.98 from 0.39 to 0.45 (all 1.0 from 0.425 to 0.44): 0.42 is the middle.
NEAR_DUPLICATE_THRESHOLD = 0.42
#: 128 values: the estimate's standard error at J = 0.4 is 0.043 (64 values: 0.061). Under six
#: rensa seeds every script and language keeps P and R >= 0.98 at 0.40-0.42 with 128 values,
#: with 64 two or three seeds of six fall below (``test_dedupe_multilingual.py --seeds``).
NUM_PERM = 128
# Two tiers of LSH bands. Every text: 21 bands x 3 rows of the first 63 values, P(candidate) =
# 1 - (1 - J**3)**21: 0.94 at J = 0.5, 0.994 at 0.6, 0.16 at 0.2 (a few candidates an item).
# Mirrors of long texts sit at J >= 0.6 (their furniture is a small share of them). Texts of at
# most FINE_MAX_SHINGLES shingles also get 32 bands x 2 rows of the first 64 values, shared
# only among such texts: 1 - (1 - J**2)**32 is 0.998 at J = 0.42 and 0.9993 at 0.45, for the
# short mirrors whose furniture is as long as the story (J 0.44-0.5; the coarse bands find
# 0.85-0.94 of those). The fine bands for every text would meet 0.27 of the pairs at J = 0.1:
# ~250 candidates an item on the bench's stream instead of ~29, doubling dedupe's cost. A pair
# at J >= 0.42 is at most 2.4 times apart in size, so a story of up to 60 shingles and its
# mirror both have the fine bands.
BANDS = 21
ROWS = 3
FINE_BANDS = 32
FINE_ROWS = 2
FINE_MAX_SHINGLES = 150
#: Shingle lengths: 2 words, 3 characters of an unspaced script (see :func:`shingles`).
WORD_SHINGLE = 2
CHAR_SHINGLE = 3
MAX_TOKENS = 400  # the lead carries the story; long tails must not slow the stream
MAX_BUCKET = 50

#: Version of the shingle scheme (2: word 2-shingles, character 3-shingles of unspaced scripts,
#: 128 values).
_SCHEME = 2
#: Key prefix of stored signatures: changes with the signature scheme (rensa's algorithm
#: version and :data:`_SCHEME` included), so a store written by another scheme is never
#: compared with new signatures. (Banding lives in memory only: changing it needs no new prefix.)
_SIG_PREFIX = f"h{RMinHash.ALGORITHM_VERSION}.{_SCHEME}:"

_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url", "smid", "cmpid",
        "cmp", "ocid", "icid", "ito", "s_cid", "spm", "share", "sh", "src", "taid", "wt_mc",
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "CMP",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


#: A plain http(s) URL: no user, port, query or fragment, nothing urlsplit would clean up.
_PLAIN_URL = re.compile(r"https?://(?:www\.)?([a-z0-9.-]+)(/[^?#\s\\;]*)?", re.IGNORECASE | re.ASCII)


def canonical_url(url: str) -> str:
    """A URL with the trivial variations removed, for identity.

    Scheme (http/https), ``www.``, host case, default ports, fragments, the
    trailing slash, tracking parameters (``utm_*``, ``fbclid``, ``gclid``...)
    and parameter order do not make a different page.
    """
    plain = _PLAIN_URL.fullmatch(url)
    # fast path for plain http(s) links: 3.6 -> 0.6 us a URL; tests/processors/test_dedupe.py::test_plain_url_fast_path_agrees_with_the_general_parser
    if plain is not None:
        host, path = plain.groups()
        return f"{host.lower()}{path.rstrip('/') if path else ''}"
    return _general_canonical_url(url)


def _general_canonical_url(url: str) -> str:
    """:func:`canonical_url` for any URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or ""
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k not in _TRACKING_PARAMS and k.lower() not in _TRACKING_PARAMS
    )
    if not host:
        return urlunsplit(("", "", path, urlencode(query), ""))
    return urlunsplit(("", host, path, urlencode(query), "")).lstrip("/")


def item_tokens(item: Mapping[str, Any]) -> list[str]:
    """The normalised tokens dedupe compares: title, then body."""
    return tokenize(f"{item.get('title', '')}\n{item.get('body', '')}")


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


_LETTER = re.compile(r"[^\W\d_]")


def has_text(tokens: Sequence[str]) -> bool:
    """Does a token list hold any letter? Without one (no tokens, or only numbers and emoji)
    a text has no identity of its own: two score lines or two emoji-only posts are not one story."""
    return any(map(_LETTER.search, tokens))


#: Scripts written without spaces between words: Han (CJK ideographs and their extensions,
#: compatibility ideographs, the iteration mark), Hiragana, Katakana (and its phonetic
#: extensions and half-width forms), Thai, Lao, Myanmar, Khmer (and its symbols), Tai Tham.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\u1a20-\u1aaf\ua9e0-\ua9ff\uaa60-\uaa7f"
    "\u3005\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f]"
)


def token_units(token: str) -> list[str]:
    """What one token contributes to shingles: its characters in an unspaced script, else itself.

    The tokenizer gives Han and Hiragana one token a character already, but a Thai, Lao,
    Khmer, Myanmar or Katakana run as one token (Lucene's StandardTokenizer): a run is a
    phrase, not a word, so shingling it whole would make two texts differ at every run.
    """
    return list(token) if _UNSPACED.search(token) else [token]


def shingle_units(tokens: Iterable[str]) -> list[str]:
    """The units a text is shingled over: :func:`token_units` of each token, in order."""
    return [unit for token in tokens for unit in token_units(token)]


def _is_char_unit(unit: str) -> bool:
    return _UNSPACED.match(unit) is not None


def shingles(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    """The shingles of the first MAX_TOKENS tokens, the reference of what :func:`signature`
    estimates the Jaccard similarity of.

    From each unit (:func:`shingle_units`) starts one shingle: WORD_SHINGLE units from a word,
    CHAR_SHINGLE from a character of an unspaced script (a character says less than a word;
    on the labelled pairs 2 and 3 separate mirrors from other stories best, see the README).
    A shingle that would run past the end is not taken; a text with none is one shingle.
    """
    units = shingle_units(tokens[:MAX_TOKENS])
    out = set()
    for i, unit in enumerate(units):
        n = CHAR_SHINGLE if _is_char_unit(unit) else WORD_SHINGLE
        if i + n <= len(units):
            out.add(tuple(units[i : i + n]))
    return out or {tuple(units)}


# MinHash over :func:`shingles`. Each token's units are hashed once (crc32 of their UTF-8 bytes,
# stable across processes, unlike ``hash()``; a character unit's hash has bit 32 set, which
# tells the shingle mix its length); a shingle's 64-bit hash mixes its unit hashes
# (multiply-add in wrapping u64, in Rust: see :data:`_SHINGLER`); the signature of those shingle hashes is
# rensa's R-MinHash (Rust: each hash picks a slot and a rank in a few seeded rounds instead of
# being permuted NUM_PERM times; same collision probability per slot, the Jaccard similarity).
# rensa rather than a numpy port of datasketch's 64 affine permutations: 41 -> 26 us a signature; tests/processors/test_dedupe.py::test_signature_agreement_estimates_jaccard_of_the_shingles
_SEED = 1
_U32 = np.uint32
_U64 = np.uint64
_MIX1 = _U64(0x9E3779B97F4A7C15)  # odd 64-bit constants (golden ratio, xxhash prime 2)
_MIX2 = _U64(0xC2B2AE3D27D4EB4F)
_FMIX_SHIFT, _FMIX1, _FMIX2 = 33, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53  # MurmurHash3's fmix64
_CHAR_FLAG = 1 << 32
_MAX_CACHED = 1 << 18
_digests = RMinHash.digest_matrix_from_flat_token_hashes


def _unit_hash(unit: str) -> int:
    """crc32 of a unit, with bit 32 set for a character of an unspaced script."""
    return zlib.crc32(unit.encode("utf-8")) | (_CHAR_FLAG if _is_char_unit(unit) else 0)


def _unit_hashes(token: str) -> bytes:
    """:func:`_unit_hash` of each of a token's :func:`token_units`, 8 little-endian bytes each."""
    return b"".join(_unit_hash(unit).to_bytes(8, "little") for unit in token_units(token))


# The shingle hashes in Rust (services/wirewatch_native/src/shingles.rs), with these constants:
# a token's unit hashes are cached there (:func:`_unit_hashes` computes a new token's, so a token
# meets the :data:`_UNSPACED` pattern once; the cache is emptied past _MAX_CACHED tokens); a
# shingle's hash is the multiply-add mix of its units' hashes (wrapping u64: h0 * _MIX1 + h1,
# times _MIX1 plus h2 for a character shingle), a text too short for any shingle has the one
# hash sum * _MIX2 + units, and every hash then goes through MurmurHash3's fmix64 (the mix is
# linear, and so is crc32; rensa takes slot and rank straight from the input bits, so
# structured inputs need avalanche).
# in Rust: signatures_and_sizes 0.43-0.45 -> 0.23-0.27 s in a run over the bench's 20,000 items; tests/processors/test_dedupe_shingles.py::test_real_texts_of_14_languages_in_batches_of_16
_SHINGLER = wirewatch_native.Shingler(
    _unit_hashes, mix1=int(_MIX1), mix2=int(_MIX2), fmix1=_FMIX1, fmix2=_FMIX2, fmix_shift=_FMIX_SHIFT,
    char_flag=_CHAR_FLAG, word_shingle=WORD_SHINGLE, char_shingle=CHAR_SHINGLE,
)


def _token_hashes(tokens: Iterable[str]) -> npt.NDArray[np.uint64]:
    """:func:`_unit_hash` of each unit of the tokens, as uint64, through :data:`_SHINGLER`'s cache
    (guarded by tests/processors/test_dedupe.py::test_cached_token_hashes_are_the_plain_crc32)."""
    return np.frombuffer(_SHINGLER.unit_hashes(tokens, _MAX_CACHED), dtype=_U64)


def shingle_hash(shingle: Sequence[str]) -> int:
    """The hash :func:`signature` gives one shingle (a tuple of units)."""
    return _SHINGLER.shingle_hash([_unit_hash(unit) for unit in shingle])


def signature_matrix(token_lists: Sequence[Sequence[str]]) -> npt.NDArray[np.uint32]:
    """:func:`signature` of each (non-empty) token list, as the rows of one matrix, for a whole
    batch at once."""
    return signatures_and_sizes(token_lists)[0]


def signatures_and_sizes(token_lists: Sequence[Sequence[str]]) -> tuple[npt.NDArray[np.uint32], list[int]]:
    """:func:`signature_matrix` and the number of shingles of each text (which LSH tier it is in).

    The shingle hashes (:data:`_SHINGLER`) and rensa each run once over the batch: a call
    costs ~1 µs before any work.
    """
    # a batch of 16 at once: 18.3 -> 10.0 us an item; tests/processors/test_dedupe.py::test_a_batch_of_signatures_equals_one_at_a_time
    flat, offsets = _SHINGLER.shingle_hashes(token_lists, MAX_TOKENS, _MAX_CACHED)
    matrix = np.array(_digests(np.frombuffer(flat, dtype=_U64), offsets, NUM_PERM, _SEED).to_rows(), dtype=_U32)
    return matrix, [b - a for a, b in itertools.pairwise(offsets)]


def signatures(token_lists: Sequence[Sequence[str]]) -> list[list[int]]:
    """:func:`signature_matrix` as lists."""
    return signature_matrix(token_lists).tolist()  # type: ignore[no-any-return]


def signature(tokens: Sequence[str]) -> list[int]:
    """MinHash signature of the :func:`shingles` of the first MAX_TOKENS normalised tokens."""
    return signatures([tokens])[0]


_HEX_PER_VALUE = 8  # packed_signature: 8 hex digits a value


def packed_signature(sig: Sequence[int] | npt.NDArray[np.uint32]) -> str:
    """A signature as one hex string (8 big-endian digits a value): how the store keeps it.

    A string rather than a list of ints: a quarter of the memory, and no container for
    the garbage collector to walk on every full collection of a large in-process store.
    """
    return np.asarray(sig, dtype=_U32).astype(">u4").tobytes().hex()


def packed_rows(sigs: npt.NDArray[np.uint32]) -> list[str]:
    """:func:`packed_signature` of each row of a signature matrix, in one conversion."""
    # one conversion a batch: 0.64 -> 0.27 us an item; tests/processors/test_dedupe.py::test_packed_rows_equal_packed_signature_per_row
    hexed = sigs.astype(">u4").tobytes().hex()
    width = NUM_PERM * _HEX_PER_VALUE
    return [hexed[i : i + width] for i in range(0, len(hexed), width)]


def unpacked_signatures(packed: Sequence[str]) -> npt.NDArray[np.uint32]:
    """Rows of :func:`packed_signature` strings back as a ``(len(packed), NUM_PERM)`` matrix."""
    raw = bytes.fromhex("".join(packed))
    return np.frombuffer(raw, ">u4").astype(_U32).reshape(len(packed), NUM_PERM)


_BAND_SALT = (np.arange(BANDS, dtype=_U64) + _U64(1)) * _MIX2  # equal values in two bands: two keys
_FINE_SALT = (np.arange(FINE_BANDS, dtype=_U64) + _U64(BANDS + 1)) * _MIX2


def is_fine(size: int) -> bool:
    """Does a text of ``size`` shingles get the fine LSH bands (see FINE_MAX_SHINGLES)?"""
    return 0 < size <= FINE_MAX_SHINGLES


def _mixed_bands(sigs: npt.NDArray[np.uint32], bands: int, rows: int, salt: npt.NDArray[np.uint64]) -> list[list[int]]:
    values = sigs[:, : bands * rows].astype(_U64).reshape(len(sigs), bands, rows)
    mixed = values[:, :, 0] * _MIX1
    for r in range(1, rows):
        mixed += values[:, :, r]
        mixed *= _MIX1
    mixed += salt
    return mixed.tolist()  # type: ignore[no-any-return]


def band_keys(sigs: npt.NDArray[np.uint32], sizes: Sequence[int] = ()) -> list[list[int]]:
    """LSH band keys of each row of a signature matrix: two texts sharing any band are candidates.

    A key mixes the band's values and the band's number into 64 bits: BANDS keys for every
    row, then FINE_BANDS more for the rows whose text's size (shingles, ``sizes``; unknown
    when missing) :func:`is_fine`. The keys only live in memory and are rebuilt from the
    store; a collision would only add a candidate that verification rejects.
    """
    # a batch in numpy: 11.0 (Python ints) / 5.3 (numpy a row) -> 1.0 us an item; tests/processors/test_dedupe.py::test_band_keys_equal_the_plain_integer_mix
    keys = _mixed_bands(sigs, BANDS, ROWS, _BAND_SALT)
    fine = [row for row, size in enumerate(sizes) if is_fine(size)]
    if fine:
        for row, more in zip(fine, _mixed_bands(sigs[fine], FINE_BANDS, FINE_ROWS, _FINE_SALT), strict=True):
            keys[row] += more
    return keys


class LshIndex(wirewatch_native.LshIndex):
    """Recent signatures in memory: rows of NUM_PERM values, and band key -> the rows in that
    bucket (at most MAX_BUCKET: a full bucket drops its oldest row).

    Derived state: the store's signature records are the truth, and the index is rebuilt
    from them (:meth:`Deduper.reset_index`). A check gathers the rows sharing a band with
    the item (at most ``BANDS * MAX_BUCKET``) and compares their signatures: no per-candidate
    store read, no ranking by shared bands. Rows, buckets, :meth:`add` and :meth:`nearest`
    (most equal slots among fresh candidates other than the item itself, the earliest row on
    a tie) are in Rust (``services/wirewatch_native/src/lsh.rs``); band keys come from
    :func:`band_keys`. Signatures cross as numpy rows through the buffer protocol (no copy
    to Python ints, no numpy crate to pin against numpy's C API).
    """

    def __new__(cls, capacity: int = 1024) -> Self:
        return super().__new__(cls, capacity, NUM_PERM, MAX_BUCKET)

    def extend(
        self, ids: Sequence[str], stories: Sequence[str], packed: Sequence[str], times: Sequence[float],
        sizes: Sequence[int],
    ) -> None:
        """Many :func:`packed_signature` rows at once, in commit order (one unpacking pass)."""
        self._append(ids, stories, unpacked_signatures(packed), times, sizes)

    def _append(
        self,
        ids: Sequence[str],
        stories: Sequence[str],
        sigs: npt.NDArray[np.uint32],
        times: Sequence[float],
        sizes: Sequence[int],
    ) -> None:
        """Rows of a signature matrix, their band keys computed in one pass."""
        self.add_rows(ids, stories, np.ascontiguousarray(sigs, dtype=_U32), band_keys(sigs, sizes), times, sizes)

    def compacted(self, oldest: float) -> LshIndex:
        """A new index holding only rows at least as new as ``oldest`` (after a purge)."""
        ids, stories, packed, times, sizes = self.live(oldest)
        fresh = LshIndex(max(1024, len(ids)))
        fresh._append(ids, stories, np.frombuffer(packed, dtype=_U32).reshape(len(ids), NUM_PERM), times, sizes)
        return fresh


@dataclass(slots=True)
class Verdict:
    """What dedupe says about one item. ``of`` is the story's first item (None when new).

    Treat as immutable. (Not ``frozen``: every item makes one.)
    """

    # slots, not frozen: 0.6-0.8 -> 0.15 us a construction; no fast path to disagree (tests/processors/test_dedupe.py::test_redelivery_of_the_same_item_gets_its_first_verdict builds one from state)

    status: Status
    of: str | None
    similarity: float | None = None
    reason: str | None = None
    revision: int = 1

    def story_id(self, item_id: str) -> str:
        return self.of or item_id

    def as_state(self) -> dict[str, Any]:
        return {"status": self.status, "of": self.of, "similarity": self.similarity, "reason": self.reason, "revision": self.revision}

    def as_dict(self) -> dict[str, Any]:
        """The ``dedupe`` object of ``schemas/processed_item.json``."""
        out: dict[str, Any] = {"status": self.status, "of": self.of}
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 4)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(slots=True, eq=False)
class Fingerprint:
    """Everything dedupe needs from an item, computable without the store (stage 1).

    Text-less items have no signature (``vector``/``packed`` None, no bands). Treat as
    immutable (not ``frozen``, for the reason given at :class:`Verdict`).
    """

    item_id: str
    identity: tuple[str, ...]  # store keys of the item's identities, strongest first
    text_hash: str | None
    vector: npt.NDArray[np.uint32] | None = None  # the MinHash signature
    packed: str | None = None  # :func:`packed_signature` of it: the form the store keeps
    bands: Sequence[int] = ()  # its LSH band keys (check and commit both need them)
    size: int = 0  # number of shingles (0: no text), which decides the LSH tier

    @classmethod
    def of(
        cls, item_id: str, identity: tuple[str, ...], text_hash: str | None, vector: npt.NDArray[np.uint32] | None,
        size: int = 0,
    ) -> Fingerprint:
        """A fingerprint with its packed form and band keys derived from ``vector`` and ``size``."""
        if vector is None:
            return cls(item_id, identity, text_hash)
        return cls(item_id, identity, text_hash, vector, packed_signature(vector), band_keys(vector[None], [size])[0], size)

    @property
    def signature(self) -> list[int] | None:
        return self.vector.tolist() if self.vector is not None else None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the signature packed as the store keeps it), to cross the Faust stage hop."""
        return {"id": self.item_id, "identity": list(self.identity), "h": self.text_hash, "sig": self.packed, "n": self.size}

    @classmethod
    def from_dicts(cls, datas: Sequence[Mapping[str, Any]]) -> list[Fingerprint]:
        """:meth:`as_dict` read back, a batch at once: one unpacking and one band-key pass (per
        item, numpy's call overhead was 8% of the Faust worker's CPU, py-spy); guarded by
        tests/processors/test_dedupe.py::test_fingerprints_survive_their_json_form.

        A signature of another width (written by a worker of an earlier scheme, still in
        flight on the stage hop during an upgrade) is dropped: that item is judged by identity
        only, rather than compared with signatures it does not estimate anything with."""
        width = NUM_PERM * _HEX_PER_VALUE
        signed = [data for data in datas if data.get("sig") is not None and len(data["sig"]) == width]
        packed = [data["sig"] for data in signed]
        sizes = [data.get("n", 0) for data in signed]
        matrix = unpacked_signatures(packed) if packed else np.empty((0, NUM_PERM), dtype=_U32)
        rows, bands, sigs, sized = iter(matrix), iter(band_keys(matrix, sizes)), iter(packed), iter(sizes)
        out = []
        for data in datas:
            identity = tuple(data["identity"])
            if data.get("sig") is None or len(data["sig"]) != width:
                out.append(cls(data["id"], identity, data.get("h")))
            else:
                out.append(cls(data["id"], identity, data.get("h"), next(rows), next(sigs), next(bands), next(sized)))
        return out


def identity_keys(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Store keys of an item's identities, strongest first.

    A live-blog block is identified by its page and block only: its ``url``
    usually points at the whole page, shared with every other block.
    """
    blog = item.get("liveblog")
    if blog:
        return (f"b:{canonical_url(blog['page_url'])}#{blog['block_id']}", f"i:{item['id']}")
    url = item.get("url")
    return (f"i:{item['id']}", f"u:{canonical_url(url)}") if url else (f"i:{item['id']}",)


def fingerprints(items: Sequence[Mapping[str, Any]], token_lists: Sequence[Sequence[str]] | None = None) -> list[Fingerprint]:
    """Identity keys, text hash and MinHash signature of each raw item, a batch at once.

    ``token_lists`` are the items' :func:`item_tokens` when the caller already has
    them (the pipeline tokenises each item once).
    """
    if token_lists is None:
        token_lists = [item_tokens(item) for item in items]
    texted = [has_text(tokens) for tokens in token_lists]
    texts = [tokens for tokens, text in zip(token_lists, texted, strict=True) if text]
    matrix, sizes = signatures_and_sizes(texts) if texts else (np.empty((0, NUM_PERM), dtype=_U32), [])
    packed = iter(packed_rows(matrix))
    bands = iter(band_keys(matrix, sizes))
    rows = iter(matrix)
    sized = iter(sizes)
    out = []
    for item, tokens, text in zip(items, token_lists, texted, strict=True):
        identity = identity_keys(item)
        if not text:  # no letter: no text hash, no signature (see :func:`has_text`)
            out.append(Fingerprint(item["id"], identity, None))
            continue
        out.append(Fingerprint(
            item["id"], identity, text_hash(" ".join(tokens)), next(rows), next(packed), next(bands), next(sized)))
    return out


def fingerprint(item: Mapping[str, Any], tokens: Sequence[str] | None = None) -> Fingerprint:
    """:func:`fingerprints` of one item."""
    return fingerprints([item], None if tokens is None else [tokens])[0]


class Deduper:
    """Verdicts over a key-value store; :meth:`check` reads, :meth:`commit` writes.

    Store layout (values are JSON): identity keys ``b:``/``i:``/``u:`` and
    ``x:<text hash>`` -> ``{"s": story, "h": text hash, "r": revision, "t": epoch s}``;
    ``h<rensa algorithm version>.<shingle scheme>:<item id>`` -> ``{"s", "sig": packed_signature, "t", "n": shingles}``. About five small
    writes per item: in a Faust table each write is also a changelog message.

    The LSH index (:class:`LshIndex`: signatures and band buckets) is *derived*
    state, kept in memory and rebuilt from the signature records on first use (and
    after :meth:`reset_index`, which the Faust app calls when a rebalance hands
    this worker the dedupe partition): writing 21 buckets per item to a
    changelogged table cost more than everything else the processor does.
    """

    def __init__(
        self,
        store: MutableMapping[str, Any],
        window: timedelta = timedelta(hours=72),
        threshold: float = NEAR_DUPLICATE_THRESHOLD,
    ) -> None:
        self.store = store
        self.window = window.total_seconds()
        self.threshold = threshold
        self._index: LshIndex | None = None

    def reset_index(self) -> None:
        """Forget the in-memory LSH index: rebuilt from the store's signatures on next use."""
        self._index = None

    @property
    def index(self) -> LshIndex:
        """The LSH index, built from the signature records the first time it is needed."""
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def _build_index(self) -> LshIndex:
        prefix = len(_SIG_PREFIX)
        records = [(key[prefix:], value) for key, value in list(self.store.items()) if key.startswith(_SIG_PREFIX)]
        records.sort(key=lambda kv: kv[1]["t"])  # stable: commit order within one timestamp
        index = LshIndex(max(1024, len(records)))
        if records:
            index.extend(
                [item_id for item_id, _ in records],
                [record["s"] for _, record in records],
                [record["sig"] for _, record in records],
                [record["t"] for _, record in records],
                [record.get("n", 0) for _, record in records],
            )
        return index

    def _fresh(self, key: str, now: float) -> Any:
        value = self.store.get(key)
        if value is None:
            return None
        if now - value["t"] > self.window:
            del self.store[key]
            return None
        return value

    def check(self, item: Mapping[str, Any] | Fingerprint, now: datetime | float | None = None) -> Verdict:
        """The verdict for one item, without remembering it (see :meth:`commit`)."""
        fp = item if isinstance(item, Fingerprint) else fingerprint(item)
        ts = _epoch(now)
        again = self.redelivered(fp, ts)
        if again is not None:
            return again  # a re-delivery (at-least-once): same answer as the first time
        for key in fp.identity:
            seen = self._fresh(key, ts)
            if seen is None:
                continue
            kind = {"b": "live-blog block", "i": "item id", "u": "canonical url"}[key[0]]
            if seen.get("h") == fp.text_hash:
                return Verdict("duplicate", seen["s"], 1.0, f"same {kind}, same text", seen.get("r", 1))
            return Verdict("update", seen["s"], None, f"same {kind}, changed text", seen.get("r", 1) + 1)
        if fp.text_hash is None or fp.vector is None:
            return Verdict("new", None)
        seen = self._fresh(f"x:{fp.text_hash}", ts)
        if seen is not None:
            return Verdict("duplicate", seen["s"], 1.0, "identical text")
        # the LSH index in Rust: nearest+add 0.48 -> 0.16 s over the bench's 20,000 items; tests/processors/test_dedupe.py::test_nearest_is_the_most_equal_fresh_candidate_and_the_earliest_row_on_a_tie
        nearest = self.index.nearest(fp.vector, fp.bands, ts - self.window, fp.item_id)
        if nearest is not None and nearest[0] >= self.threshold:
            return Verdict("near_duplicate", nearest[1], nearest[0], "similar text")
        return Verdict("new", None)

    def redelivered(self, fp: Fingerprint, ts: float) -> Verdict | None:
        """The verdict an exact re-delivery of ``fp`` (same id, same text) got the first time; None
        for anything else."""
        again = self._fresh(f"i:{fp.item_id}", ts)
        if again is not None and again.get("h") == fp.text_hash and "v" in again:
            return Verdict(**again["v"])
        return None

    def commit(self, item: Mapping[str, Any] | Fingerprint, verdict: Verdict, now: datetime | float | None = None) -> None:
        """Remember an item under the verdict it got, so later items resolve to its story."""
        fp = item if isinstance(item, Fingerprint) else fingerprint(item)
        ts = _epoch(now)
        story = verdict.story_id(fp.item_id)
        record = {"s": story, "h": fp.text_hash, "r": verdict.revision, "t": ts}
        ikey = f"i:{fp.item_id}"
        # i: first, in one write with its verdict: a worker killed between these writes (a
        # Faust table's changelog keeps a prefix of them) leaves no u:/b: record of this item
        # without its i: record, so the re-delivered item gets its first verdict back instead
        # of being a duplicate of itself
        self.store[ikey] = dict(record, v=verdict.as_state())
        for key in fp.identity:
            if key != ikey:
                self.store[key] = record
        if fp.text_hash is None or fp.vector is None or verdict.status == "duplicate":
            return
        xkey = f"x:{fp.text_hash}"
        if self._fresh(xkey, ts) is None:
            self.store[xkey] = {"s": story, "t": ts}
        self.store[f"{_SIG_PREFIX}{fp.item_id}"] = {"s": story, "sig": fp.packed, "t": ts, "n": fp.size}
        self.index.add(fp.item_id, story, fp.vector, fp.bands, ts, fp.size)

    def observe(self, item: Mapping[str, Any] | Fingerprint, now: datetime | float | None = None) -> Verdict:
        """:meth:`check` then :meth:`commit`: the usual single-writer path."""
        fp = item if isinstance(item, Fingerprint) else fingerprint(item)
        verdict = self.check(fp, now)
        self.commit(fp, verdict, now)
        return verdict

    def purge(self, now: datetime | float | None = None, keys: Iterable[str] | None = None) -> int:
        """Drop every record older than the window; returns how many went."""
        ts = _epoch(now)
        dropped = 0
        for key in list(keys if keys is not None else self.store.keys()):
            if key in self.store and self._fresh(key, ts) is None:
                dropped += 1
        if self._index is not None:
            self._index = self._index.compacted(ts - self.window)
        return dropped


def _epoch(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)
