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
import time
import zlib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from datasketch import MinHash

from wirewatch.processors.analysis import normalize

Status = Literal["new", "duplicate", "near_duplicate", "update"]

#: Measured on the labelled pairs (see the module docstring): best F1.
NEAR_DUPLICATE_THRESHOLD = 0.5
NUM_PERM = 64
BANDS = 32  # 32 bands x 2 rows: P(candidate) > 0.99 at Jaccard 0.5; candidates are verified after
ROWS = NUM_PERM // BANDS
SHINGLE = 3
MAX_TOKENS = 400  # the lead carries the story; long tails must not slow the stream
MAX_BUCKET = 50
MAX_VERIFY = 8

_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url", "smid", "cmpid",
        "cmp", "ocid", "icid", "ito", "s_cid", "spm", "share", "sh", "src", "taid", "wt_mc",
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "CMP",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """A URL with the trivial variations removed, for identity.

    Scheme (http/https), ``www.``, host case, default ports, fragments, the
    trailing slash, tracking parameters (``utm_*``, ``fbclid``, ``gclid``...)
    and parameter order do not make a different page.
    """
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


def item_text(item: Mapping[str, Any]) -> str:
    """The normalised text dedupe compares: title and body."""
    return normalize(f"{item.get('title', '')}\n{item.get('body', '')}")


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


@cache
def _prototype() -> MinHash:
    """Permutations are drawn once (seeded) and shared: signatures stay comparable across restarts."""
    return MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32)


def signature(text: str) -> list[int]:
    """MinHash signature of the word 3-shingles of normalised text."""
    tokens = text.split()[:MAX_TOKENS]
    if len(tokens) >= SHINGLE:
        shingles = {" ".join(tokens[i : i + SHINGLE]).encode() for i in range(len(tokens) - SHINGLE + 1)}
    else:
        shingles = {" ".join(tokens).encode()}
    proto = _prototype()
    mh = MinHash(
        num_perm=NUM_PERM, hashfunc=zlib.crc32, permutations=proto.permutations, scheme=proto.scheme
    )
    mh.update_batch(shingles)
    return [int(v) for v in mh.hashvalues]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / NUM_PERM


def band_keys(sig: list[int]) -> list[str]:
    """LSH band keys: two texts sharing any band are candidates."""
    keys = []
    for band in range(BANDS):
        chunk = sig[band * ROWS : (band + 1) * ROWS]
        digest = zlib.crc32(",".join(map(str, chunk)).encode())
        keys.append(f"l:{band}:{digest:08x}")
    return keys


@dataclass(frozen=True)
class Verdict:
    """What dedupe says about one item. ``of`` is the story's first item (None when new)."""

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


@dataclass(frozen=True)
class Fingerprint:
    """Everything dedupe needs from an item, computable without the store (stage 1)."""

    item_id: str
    identity: tuple[str, ...]  # store keys of the item's identities, strongest first
    text_hash: str | None
    signature: list[int] | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.item_id, "identity": list(self.identity), "h": self.text_hash, "sig": self.signature}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        return cls(data["id"], tuple(data["identity"]), data.get("h"), data.get("sig"))


def fingerprint(item: Mapping[str, Any]) -> Fingerprint:
    """Identity keys, text hash and MinHash signature of one raw item.

    A live-blog block is identified by its page and block only: its ``url``
    usually points at the whole page, shared with every other block.
    """
    identity: list[str] = []
    blog = item.get("liveblog")
    if blog:
        identity.append(f"b:{canonical_url(blog['page_url'])}#{blog['block_id']}")
    identity.append(f"i:{item['id']}")
    if not blog and item.get("url"):
        identity.append(f"u:{canonical_url(item['url'])}")
    text = item_text(item)
    if not text:
        return Fingerprint(item["id"], tuple(identity), None, None)
    return Fingerprint(item["id"], tuple(identity), text_hash(text), signature(text))


class Deduper:
    """Verdicts over a key-value store; :meth:`check` reads, :meth:`commit` writes.

    Store layout (values are JSON): identity keys ``b:``/``i:``/``u:`` and
    ``x:<text hash>`` -> ``{"s": story, "h": text hash, "r": revision, "t": epoch s}``;
    ``l:<band>:<hash>`` -> ``[[item id, t], ...]``; ``s:<item id>`` -> ``{"s", "sig", "t"}``.
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

    def _fresh(self, key: str, now: float) -> Any:
        value = self.store.get(key)
        if value is None:
            return None
        t = (value[-1][1] if value else 0) if isinstance(value, list) else value.get("t", 0)
        if now - t > self.window:
            del self.store[key]
            return None
        return value

    def check(self, item: Mapping[str, Any] | Fingerprint, now: datetime | float | None = None) -> Verdict:
        """The verdict for one item, without remembering it (see :meth:`commit`)."""
        fp = item if isinstance(item, Fingerprint) else fingerprint(item)
        ts = _epoch(now)
        again = self._fresh(f"i:{fp.item_id}", ts)
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
        if fp.text_hash is None or fp.signature is None:
            return Verdict("new", None)
        seen = self._fresh(f"x:{fp.text_hash}", ts)
        if seen is not None:
            return Verdict("duplicate", seen["s"], 1.0, "identical text")
        hits: dict[str, int] = {}
        for bkey in band_keys(fp.signature):
            for other_id, _t in self._fresh(bkey, ts) or ():
                if other_id != fp.item_id:
                    hits[other_id] = hits.get(other_id, 0) + 1
        best: tuple[float, str] | None = None
        # shared bands track similarity (E[hits] = BANDS * J**ROWS): verify the likeliest few only
        for other_id in sorted(hits, key=hits.__getitem__, reverse=True)[:MAX_VERIFY]:
            other = self._fresh(f"s:{other_id}", ts)
            if other is None:
                continue
            sim = similarity(fp.signature, other["sig"])
            if sim >= self.threshold and (best is None or sim > best[0]):
                best = (sim, other["s"])
        if best is not None:
            return Verdict("near_duplicate", best[1], best[0], "similar text")
        return Verdict("new", None)

    def commit(self, item: Mapping[str, Any] | Fingerprint, verdict: Verdict, now: datetime | float | None = None) -> None:
        """Remember an item under the verdict it got, so later items resolve to its story."""
        fp = item if isinstance(item, Fingerprint) else fingerprint(item)
        ts = _epoch(now)
        story = verdict.story_id(fp.item_id)
        record = {"s": story, "h": fp.text_hash, "r": verdict.revision, "t": ts}
        for key in fp.identity:
            self.store[key] = record
        self.store[f"i:{fp.item_id}"] = dict(record, v=verdict.as_state())
        if fp.text_hash is None or fp.signature is None or verdict.status == "duplicate":
            return
        xkey = f"x:{fp.text_hash}"
        if self._fresh(xkey, ts) is None:
            self.store[xkey] = {"s": story, "t": ts}
        self.store[f"s:{fp.item_id}"] = {"s": story, "sig": fp.signature, "t": ts}
        for bkey in band_keys(fp.signature):
            bucket = [e for e in (self._fresh(bkey, ts) or []) if e[0] != fp.item_id and ts - e[1] <= self.window]
            bucket.append([fp.item_id, ts])
            self.store[bkey] = bucket[-MAX_BUCKET:]

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
        return dropped


def _epoch(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)
