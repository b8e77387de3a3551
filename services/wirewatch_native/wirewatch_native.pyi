"""The numeric core of Wirewatch's events (services/wirewatch/processors/events.py) and dedupe's LSH index, in Rust."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

class EventCore:
    """Rows of interned features, postings, document frequencies and the weighted Dice."""

    def __init__(
        self, *, boost: Sequence[tuple[str, float]], prior_docs: int, posting_cap: int, top_rows: int,
        numbers_disagree: float, log1p: Sequence[float],
    ) -> None: ...
    def __len__(self) -> int: ...
    def weights(self, features: list[str]) -> list[float]: ...
    def alike(self, features: list[str], oldest: float) -> tuple[float, list[tuple[float, int]]]: ...
    def add(self, features: list[str], weight: float, time: float) -> None: ...

class Featurer:
    """One language's features (stop words out, stems, numbers, Han/Hiragana pairs, quotes, entities)."""

    def __init__(
        self, *, stops: Sequence[str], stem: int, lead_tokens: int, is_character: Callable[[str], object],
        has_digit: Callable[[str], object], tokenize: Callable[[str], Iterable[str]],
    ) -> None: ...
    def features(
        self, title: Sequence[str], lead: Sequence[str], texts: Iterable[str], entities: Iterable[Mapping[str, Any]],
    ) -> list[str]: ...

# --- dedupe: the LSH index (src/lsh.rs; used by wirewatch.processors.dedupe.LshIndex) ---
# signatures: any uint32 buffer (read through the buffer protocol); here numpy rows and matrices

class LshIndex:
    """MinHash signature rows, band-key buckets and the nearest fresh candidate."""

    def __new__(cls, capacity: int, num_perm: int, max_bucket: int) -> Self: ...
    def __len__(self) -> int: ...
    @property
    def ids(self) -> list[str]: ...
    @property
    def row_of(self) -> dict[str, int]: ...
    def add(self, item_id: str, story: str, sig: npt.NDArray[np.uint32], bands: Sequence[int], ts: float, size: int = 0) -> None: ...
    def add_rows(
        self, ids: Sequence[str], stories: Sequence[str], sigs: npt.NDArray[np.uint32], bands: Sequence[Sequence[int]],
        times: Sequence[float], sizes: Sequence[int],
    ) -> None: ...
    def nearest(self, sig: npt.NDArray[np.uint32], bands: Sequence[int], oldest: float, item_id: str) -> tuple[float, str] | None: ...
    def live(self, oldest: float) -> tuple[list[str], list[str], bytes, list[float], list[int]]: ...

# --- end dedupe ---

# --- dedupe: the shingle hashes (src/shingles.rs; used by wirewatch.processors.dedupe._SHINGLER) ---
# hashes cross as native-endian uint64 bytes (numpy.frombuffer reads them without a copy)

class Shingler:
    """The token -> unit hashes cache and the shingle hashes of a batch of texts."""

    def __new__(
        cls, unit_hashes: Callable[[str], bytes], *, mix1: int, mix2: int, fmix1: int, fmix2: int, fmix_shift: int,
        char_flag: int, word_shingle: int, char_shingle: int,
    ) -> Self: ...
    def __len__(self) -> int: ...
    def unit_hashes(self, tokens: Iterable[str], max_cached: int) -> bytes: ...
    def shingle_hashes(self, token_lists: Iterable[Iterable[str]], max_tokens: int, max_cached: int) -> tuple[bytes, list[int]]: ...
    def shingle_hash(self, unit_hashes: Sequence[int]) -> int: ...

# --- end dedupe shingles ---
