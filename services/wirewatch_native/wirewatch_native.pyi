"""Wirewatch's hot loops in Rust (services/wirewatch_native)."""

from collections.abc import Sequence
from typing import Self

import numpy as np
import numpy.typing as npt

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
