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

Why MinHash/LSH rather than SimHash: on ``tests/fixtures/processors/dedupe_pairs.jsonl``
MinHash Jaccard over word 3-shingles separates mirrors with bylines and
"continue reading" tails from same-event-different-text stories better than
64-bit SimHash, and its banded index needs only exact key look-ups, which
every key-value store offers (see ``tests/processors/test_dedupe.py``).
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
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from rensa import RMinHash

from wirewatch.search.analysis import tokenize

Status = Literal["new", "duplicate", "near_duplicate", "update"]

#: Measured on the labelled pairs (see the module docstring): best F1.
NEAR_DUPLICATE_THRESHOLD = 0.5
NUM_PERM = 64
# 21 bands x 3 rows (63 of the 64 values; all 64 estimate similarity): P(candidate) =
# 1 - (1 - J**3)**21 is 0.94 at J = 0.5, 0.994 at 0.6 and 1 - 3e-7 at 0.8, but only 0.16 at
# J = 0.2 and 0.02 at 0.1 (32 bands of 2 rows: 0.73 and 0.27), so an item meets a few
# dozen bucket entries instead of ~600. Mirrors with a byline and a tail sit at J >= 0.6.
# 16 bands of 4 rows meet a third as many but miss 1 pair in 10 at J = 0.6.
BANDS = 21
ROWS = 3
SHINGLE = 3
MAX_TOKENS = 400  # the lead carries the story; long tails must not slow the stream
MAX_BUCKET = 50

#: Key prefix of stored signatures: changes with the signature scheme (rensa's algorithm
#: version included), so a store written by another scheme is never compared with new
#: signatures. (Banding lives in memory only: changing it needs no new prefix.)
_SIG_PREFIX = f"h{RMinHash.ALGORITHM_VERSION}:"

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


# MinHash over word 3-shingles. Each token is hashed once (crc32 of its UTF-8 bytes, stable
# across processes, unlike ``hash()``); a shingle's 64-bit hash mixes its three token hashes
# (multiply-add in uint64, vectorised with numpy); the signature of those shingle hashes is
# rensa's R-MinHash (Rust: each hash picks a slot and a rank in a few seeded rounds instead of
# being permuted NUM_PERM times; same collision probability per slot, the Jaccard similarity).
# rensa rather than a numpy port of datasketch's 64 affine permutations: 41 -> 26 us a signature; tests/processors/test_dedupe.py::test_signature_agreement_estimates_jaccard_of_3_shingles
_SEED = 1
_U32 = np.uint32
_U64 = np.uint64
_MIX1 = _U64(0x9E3779B97F4A7C15)  # odd 64-bit constants (golden ratio, xxhash prime 2)
_MIX2 = _U64(0xC2B2AE3D27D4EB4F)
_S33, _FMIX1, _FMIX2 = _U64(33), _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53)
_MAX_CACHED = 1 << 18
_digests = RMinHash.digest_matrix_from_flat_token_hashes


def _token_hash(token: str) -> int:
    return zlib.crc32(token.encode("utf-8"))


# cached token hashes as bytes: 33k fewer instructions an item; tests/processors/test_dedupe.py::test_cached_token_hashes_are_the_plain_crc32
class _TokenHashes(dict[str, bytes]):
    """crc32 per token as 8 little-endian bytes, computed on first sight: news vocabulary
    repeats, so a batch's look-ups run in C (``dict.__getitem__``) and only new tokens
    reach Python. Bytes rather than ints: a batch's hashes are then one ``bytes.join``
    that numpy reads as it is, instead of a Python int converted per token."""

    def __missing__(self, token: str) -> bytes:
        if len(self) > _MAX_CACHED:
            self.clear()
        value = self[token] = _token_hash(token).to_bytes(8, "little")
        return value


_TOKEN_HASHES = _TokenHashes()


def _token_hashes(tokens: Iterable[str]) -> npt.NDArray[np.uint64]:
    """crc32 of each token, as uint64 (the width the shingle mix works in)."""
    return np.frombuffer(b"".join(map(_TOKEN_HASHES.__getitem__, tokens)), dtype="<u8").astype(_U64, copy=False)


def _short_text_hash(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The one shingle hash (before :func:`_fmix64`) of a text shorter than SHINGLE tokens."""
    return h.sum(dtype=_U64, keepdims=True) * _MIX2 + _U64(len(h))


def _fmix64(mixed: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """MurmurHash3's fmix64, in place. The shingle mix is linear, and so is crc32; rensa
    takes slot and rank straight from the input bits, so structured inputs need avalanche."""
    mixed ^= mixed >> _S33
    mixed *= _FMIX1
    mixed ^= mixed >> _S33
    mixed *= _FMIX2
    mixed ^= mixed >> _S33
    return mixed


def _windows(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The mix (before :func:`_fmix64`) of every run of SHINGLE consecutive token hashes."""
    return (h[:-2] * _MIX1 + h[1:-1]) * _MIX1 + h[2:] if len(h) >= SHINGLE else h[:0]


def _shingle_hashes(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per run of SHINGLE token hashes (one for the whole text when shorter)."""
    return _fmix64(_short_text_hash(h) if len(h) < SHINGLE else _windows(h))


def shingle_hash(shingle: Sequence[str]) -> int:
    """The hash :func:`signature` gives one shingle (a tuple of tokens): its scalar reference."""
    return int(_shingle_hashes(np.array([_token_hash(t) for t in shingle], dtype=_U64))[0])


def signature_matrix(token_lists: Sequence[Sequence[str]]) -> npt.NDArray[np.uint32]:
    """:func:`signature` of each (non-empty) token list, as the rows of one matrix, for a whole
    batch at once.

    The token hashes, the shingle mix and rensa each run once over the batch: numpy and
    rensa calls cost ~1 µs each before any work.
    """
    # a batch of 16 at once: 18.3 -> 10.0 us an item; tests/processors/test_dedupe.py::test_a_batch_of_signatures_equals_one_at_a_time
    capped = [tokens[:MAX_TOKENS] for tokens in token_lists]
    h = _token_hashes(itertools.chain.from_iterable(capped))
    # every window of three consecutive hashes, also those spanning two texts (dropped below)
    windows = _windows(h)
    parts = []
    offsets = [0]
    start = 0
    for tokens in capped:
        n = len(tokens)
        parts.append(windows[start : start + n - 2] if n >= SHINGLE else _short_text_hash(h[start : start + n]))
        offsets.append(offsets[-1] + len(parts[-1]))
        start += n
    shingles = _fmix64(np.concatenate(parts)) if parts else h[:0]
    return np.array(_digests(shingles, offsets, NUM_PERM, _SEED).to_rows(), dtype=_U32)


def signatures(token_lists: Sequence[Sequence[str]]) -> list[list[int]]:
    """:func:`signature_matrix` as lists."""
    return signature_matrix(token_lists).tolist()  # type: ignore[no-any-return]


def signature(tokens: Sequence[str]) -> list[int]:
    """MinHash signature of the word 3-shingles of the first MAX_TOKENS normalised tokens."""
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


def band_keys(sigs: npt.NDArray[np.uint32]) -> list[list[int]]:
    """LSH band keys of each row of a signature matrix: two texts sharing any band are candidates.

    A key mixes the band's ROWS values and the band's number into 64 bits. The keys only
    live in memory and are rebuilt from the store; a collision would only add a candidate
    that verification rejects.
    """
    # a batch in numpy: 11.0 (Python ints) / 5.3 (numpy a row) -> 1.0 us an item; tests/processors/test_dedupe.py::test_band_keys_equal_the_plain_integer_mix
    rows = sigs[:, : BANDS * ROWS].astype(_U64).reshape(len(sigs), BANDS, ROWS)
    mixed = rows[:, :, 0] * _MIX1
    for r in range(1, ROWS):
        mixed += rows[:, :, r]
        mixed *= _MIX1
    mixed += _BAND_SALT
    return mixed.tolist()  # type: ignore[no-any-return]


#: Up to this many candidates are compared one row at a time (numpy's per-call cost is the
#: cost there); more go through one matrix comparison.
# row at a time for few candidates: 3.65 -> 2.52 us a check; tests/processors/test_dedupe.py::test_few_and_many_candidates_give_the_same_nearest
_FEW = 8


class LshIndex:
    """Recent signatures in memory: rows of one matrix, and band key -> the rows in that bucket.

    Derived state: the store's signature records are the truth, and the index is rebuilt
    from them (:meth:`Deduper.reset_index`). A check gathers the rows sharing a band with
    the item (at most ``BANDS * MAX_BUCKET``) and compares their signatures (a few one row
    at a time, more in one numpy pass): no per-candidate store read, no ranking by shared bands.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.sigs = np.empty((capacity, NUM_PERM), dtype=_U32)
        self.times = np.empty(capacity, dtype=np.float64)
        self.ids: list[str] = []
        self.stories: list[str] = []
        self.row_of: dict[str, int] = {}  # item id -> its newest row
        # band key -> its row, or a list of rows once a second one shares the band (most keys hold one)
        # one-row buckets as ints: 148M fewer instructions over 20,000 items; tests/processors/test_dedupe.py::test_few_and_many_candidates_give_the_same_nearest
        self.buckets: dict[int, int | list[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * len(self.times))
        sigs = np.empty((capacity, NUM_PERM), dtype=_U32)
        times = np.empty(capacity, dtype=np.float64)
        sigs[: len(self.ids)] = self.sigs[: len(self.ids)]
        times[: len(self.ids)] = self.times[: len(self.ids)]
        self.sigs, self.times = sigs, times

    def add(self, item_id: str, story: str, sig: npt.NDArray[np.uint32], bands: Sequence[int], ts: float) -> None:
        """Remember one signature; a re-committed id's earlier row stops counting."""
        row = len(self.ids)
        if row == len(self.times):
            self._grow(row + 1)
        self.sigs[row] = sig
        self.times[row] = ts
        self.ids.append(item_id)
        self.stories.append(story)
        earlier = self.row_of.get(item_id)
        if earlier is not None:
            self.times[earlier] = -np.inf
        self.row_of[item_id] = row
        buckets = self.buckets
        for key in bands:
            bucket = buckets.get(key)
            if bucket is None:  # most keys are new: the row itself, no list
                buckets[key] = row
            elif isinstance(bucket, int):
                buckets[key] = [bucket, row]
            else:
                bucket.append(row)
                if len(bucket) > MAX_BUCKET:
                    del bucket[0]

    def extend(
        self, ids: Sequence[str], stories: Sequence[str], packed: Sequence[str], times: Sequence[float]
    ) -> None:
        """Many :func:`packed_signature` rows at once, in commit order (one unpacking pass)."""
        self._append(ids, stories, unpacked_signatures(packed), times)

    def _append(
        self,
        ids: Sequence[str],
        stories: Sequence[str],
        sigs: npt.NDArray[np.uint32],
        times: Sequence[float],
    ) -> None:
        """Rows of a signature matrix, their band keys computed in one pass."""
        if len(self.ids) + len(ids) > len(self.times):
            self._grow(len(self.ids) + len(ids))
        for item_id, story, sig, bands, ts in zip(ids, stories, sigs, band_keys(sigs), times, strict=True):
            self.add(item_id, story, sig, bands, ts)

    def nearest(self, sig: npt.NDArray[np.uint32], bands: Sequence[int], oldest: float, item_id: str) -> tuple[float, str] | None:
        """(similarity, story) of the most similar fresh candidate other than ``item_id``.

        On a tie the earliest row wins: the first item seen of the story.
        """
        hits = [bucket for bucket in map(self.buckets.get, bands) if bucket is not None]
        if not hits:
            return None
        found: set[int] = set()
        for bucket in hits:
            if isinstance(bucket, int):
                found.add(bucket)
            else:
                found.update(bucket)
        found.discard(self.row_of.get(item_id, -1))
        if not found:
            return None
        if len(found) <= _FEW:  # the usual case: a row at a time beats setting up a matrix
            times, sigs = self.times, self.sigs
            best, best_row = -1, -1
            for row in sorted(found):
                if times[row] >= oldest:
                    shared = int(np.count_nonzero(sigs[row] == sig))
                    if shared > best:
                        best, best_row = shared, row
            return (best / NUM_PERM, self.stories[best_row]) if best_row >= 0 else None
        rows = np.fromiter(found, dtype=np.intp, count=len(found))
        rows = rows[self.times[rows] >= oldest]
        if not len(rows):
            return None
        rows.sort()
        shared = (self.sigs[rows] == sig).sum(axis=1)
        best = int(shared.argmax())
        return int(shared[best]) / NUM_PERM, self.stories[int(rows[best])]

    def compacted(self, oldest: float) -> LshIndex:
        """A new index holding only rows at least as new as ``oldest`` (after a purge)."""
        n = len(self.ids)
        live = np.flatnonzero(self.times[:n] >= oldest)
        fresh = LshIndex(max(1024, len(live)))
        keep = live.tolist()
        fresh._append(
            [self.ids[i] for i in keep], [self.stories[i] for i in keep], self.sigs[live], self.times[live].tolist()
        )
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

    @classmethod
    def of(cls, item_id: str, identity: tuple[str, ...], text_hash: str | None, vector: npt.NDArray[np.uint32] | None) -> Fingerprint:
        """A fingerprint with its packed form and band keys derived from ``vector``."""
        if vector is None:
            return cls(item_id, identity, text_hash)
        return cls(item_id, identity, text_hash, vector, packed_signature(vector), band_keys(vector[None])[0])

    @property
    def signature(self) -> list[int] | None:
        return self.vector.tolist() if self.vector is not None else None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the signature packed as the store keeps it), to cross the Faust stage hop."""
        return {"id": self.item_id, "identity": list(self.identity), "h": self.text_hash, "sig": self.packed}

    @classmethod
    def from_dicts(cls, datas: Sequence[Mapping[str, Any]]) -> list[Fingerprint]:
        """:meth:`as_dict` read back, a batch at once: one unpacking and one band-key pass (per
        item, numpy's call overhead was 8% of the Faust worker's CPU, py-spy); guarded by
        tests/processors/test_dedupe.py::test_fingerprints_survive_their_json_form."""
        packed = [data["sig"] for data in datas if data.get("sig") is not None]
        matrix = unpacked_signatures(packed) if packed else np.empty((0, NUM_PERM), dtype=_U32)
        rows, bands, sigs = iter(matrix), iter(band_keys(matrix)), iter(packed)
        out = []
        for data in datas:
            identity = tuple(data["identity"])
            if data.get("sig") is None:
                out.append(cls(data["id"], identity, data.get("h")))
            else:
                out.append(cls(data["id"], identity, data.get("h"), next(rows), next(sigs), next(bands)))
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
    texts = [tokens for tokens in token_lists if tokens]
    matrix = signature_matrix(texts) if texts else np.empty((0, NUM_PERM), dtype=_U32)
    packed = iter(packed_rows(matrix))
    bands = iter(band_keys(matrix))
    rows = iter(matrix)
    out = []
    for item, tokens in zip(items, token_lists, strict=True):
        identity = identity_keys(item)
        if not tokens:
            out.append(Fingerprint(item["id"], identity, None))
            continue
        out.append(Fingerprint(item["id"], identity, text_hash(" ".join(tokens)), next(rows), next(packed), next(bands)))
    return out


def fingerprint(item: Mapping[str, Any], tokens: Sequence[str] | None = None) -> Fingerprint:
    """:func:`fingerprints` of one item."""
    return fingerprints([item], None if tokens is None else [tokens])[0]


class Deduper:
    """Verdicts over a key-value store; :meth:`check` reads, :meth:`commit` writes.

    Store layout (values are JSON): identity keys ``b:``/``i:``/``u:`` and
    ``x:<text hash>`` -> ``{"s": story, "h": text hash, "r": revision, "t": epoch s}``;
    ``h<rensa algorithm version>:<item id>`` -> ``{"s", "sig": packed_signature, "t"}``. About five small
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
        ikey = f"i:{fp.item_id}"
        again = self._fresh(ikey, ts)
        if again is not None and again.get("h") == fp.text_hash and "v" in again:
            return Verdict(**again["v"])  # a re-delivery (at-least-once): same answer as the first time
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
        nearest = self.index.nearest(fp.vector, fp.bands, ts - self.window, fp.item_id)
        if nearest is not None and nearest[0] >= self.threshold:
            return Verdict("near_duplicate", nearest[1], nearest[0], "similar text")
        return Verdict("new", None)

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
        self.store[f"{_SIG_PREFIX}{fp.item_id}"] = {"s": story, "sig": fp.packed, "t": ts}
        self.index.add(fp.item_id, story, fp.vector, fp.bands, ts)

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
