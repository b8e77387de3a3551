"""The numeric core of Wirewatch's events (services/wirewatch/processors/events.py), in Rust."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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
