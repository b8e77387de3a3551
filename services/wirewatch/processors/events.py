"""Events: ``event_id`` groups items about one event across outlets, a level above ``story_id``.

``story_id`` folds syndicated copies (same text) into their original; an event
also gathers different outlets' own write-ups of the same facts. Two halves, like
dedupe: :func:`event_features` needs no shared state (stage 1, every partition);
:class:`EventClusterer` runs in the single-owner dedupe stage over the same dedupe
memory (``Stage.finish`` -> ``Processor.finish_batch``), so ``wirewatch process``,
the Faust worker and ``wirewatch run`` give the same ``event_id``.

Signals that work in any script (:func:`event_features`, over the title and the lead):
numbers (``#6.8``, ``#12,5``), pairs of words in quotes (``"мы друзья`` from “…”, «…»,
„…“, 「…」), entities (``@name``), and the other words minus the language's few
thousand most frequent ones (jusText's stop lists, installed with trafilatura), cut to 6
characters (a cheap stemmer: ``москву`` and ``москва`` meet); Han and Hiragana, which
the analyser splits into characters, become character pairs (``~习近``). Each feature
weighs its inverse document frequency among the items of the window, times a boost
for numbers and quotes. Two items are alike by weighted Dice: twice the weight they
share over the sum of their weights, halved when both state numbers and share none
(same-beat events differ in their figures). An item joins the event of the most alike
item of the last :data:`WINDOW` whose similarity reaches :data:`THRESHOLD` (measured
on the labelled set, ``python -m bench.events``); a new event is named after its first
story (``event_id == story_id``). A syndicated copy (duplicate, near duplicate,
update) takes the event of its story. When an item also reaches
:data:`MERGE_THRESHOLD` with items of other events, those events merge into the
oldest: the item carries
``event_merged`` (the ids merged away) and the memory keeps ``M:<old>`` -> new.
Items already emitted keep their old id; readers resolve an id through the
merges (``event_merged`` on the bridging item; the SQLite store keeps them in
``event_merges``, the event page follows them).

The per-item work is in Rust (``wirewatch_native``, services/wirewatch_native/, built by
``make install``): :class:`wirewatch_native.Featurer` makes the features, asking Python what
Python and the analyser define (``str.isalpha``, ``\\d``, the Han/Hiragana class and
``tokenize`` for quotes, ``str.lower`` for entities) so they are the same to the character;
:class:`wirewatch_native.EventCore` interns features to ids and keeps the rows, postings,
document frequencies, IDF weights, candidate counts and weighted Dice. In Python this cost
~53 us an item inside ``wirewatch process``, a quarter of the 200 us an item that 5,000 items/s
allows; in Rust ~21 (README "Events"). The constants are defined here and passed to it; the
memory records, merges and ``resolve`` stay here.

Memory layout (JSON values, each with its time ``t`` so dedupe's purge drops it
after the dedupe window): ``v:<item id>`` -> ``{"e": event, "t", "f": features,
"w": weight, "k": scheme}`` (features only for the items compared: not for syndicated
copies), ``M:<event>`` -> ``{"into": event, "t"}``; the alert windows of ``re_alert``
(:mod:`wirewatch.processors.pipeline`) ``a:<rule unit>`` -> ``{"w": start, "t"}``. The index (``EventCore``: interned
features, postings, document frequencies) is derived: built from the ``v:`` records on first
use, as the dedupe LSH index is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from wirewatch.core.schemas import event_key
from wirewatch.search.analysis import CHARACTER_TOKEN, tokenize
from wirewatch_native import EventCore, Featurer

#: Seconds an item stays comparable: a day and a half of an event's coverage on both sides
#: of a night; the labelled set's rewrites come within 30 h.
WINDOW = 48 * 3600.0
#: Similarity (weighted Dice) from which two items are the same event; chosen on the labelled
#: set (README "Events", ``python -m bench.events``): the lowest with pair precision 1.0 (0.25:
#: 0.82), as a false join hides a different event's alert behind a per-event one.
THRESHOLD = 0.3
#: Similarity from which an item also joins a second event to the first, merging them: higher
#: than :data:`THRESHOLD`, since one weak bridge would chain unrelated events (labelled set).
MERGE_THRESHOLD = 0.4
#: Lead tokens (after the title) an item is compared by: what rewrites share is up front.
LEAD_TOKENS = 30
#: Words are cut to this many characters (inflected forms meet).
STEM = 6
#: Boosts of the kinds of features over plain words.
#: (Entities already count as their words: a boost of 2 joined the two Moscow visits at 0.3.)
BOOST = {"#": 2.0, '"': 1.5}
#: Items the IDF pretends to have seen besides the window's (a new index must not make every
#: word rare).
PRIOR_DOCS = 50
#: Factor on the similarity of two items that both state numbers but share none: same-beat
#: events differ in their figures (magnitude 6.8 vs 5.9, 12 vs 4.3 billion); rewrites repeat them.
NUMBERS_DISAGREE = 0.5
#: Rows compared exactly per item: the ones sharing most features.
TOP_ROWS = 4
#: A feature held by more rows than this finds no candidates (it still weighs in the score).
POSTING_CAP = 16
#: Merge hops followed when resolving an event id.
MAX_HOPS = 16

_DIGIT = re.compile(r"\d")
_VERSION = "1"  # in stored records: features of another scheme are not compared

#: ISO 639-1 -> jusText stop-list name, for the languages both know.
_STOPLIST_NAMES = {
    "af": "Afrikaans", "sq": "Albanian", "ar": "Arabic", "hy": "Armenian", "az": "Azerbaijani", "eu": "Basque",
    "be": "Belarusian", "bn": "Bengali", "bs": "Bosnian", "br": "Breton", "bg": "Bulgarian", "ca": "Catalan",
    "hr": "Croatian", "cs": "Czech", "da": "Danish", "nl": "Dutch", "en": "English", "eo": "Esperanto",
    "et": "Estonian", "fi": "Finnish", "fr": "French", "gl": "Galician", "ka": "Georgian", "de": "German",
    "el": "Greek", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "is": "Icelandic",
    "id": "Indonesian", "ga": "Irish", "it": "Italian", "kn": "Kannada", "kk": "Kazakh", "ko": "Korean",
    "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lv": "Latvian", "lt": "Lithuanian", "lb": "Luxembourgish",
    "mk": "Macedonian", "ms": "Malay", "ml": "Malayalam", "mt": "Maltese", "mr": "Marathi", "ne": "Nepali",
    "nb": "Norwegian_Bokmal", "no": "Norwegian_Bokmal", "nn": "Norwegian_Nynorsk", "fa": "Persian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sr": "Serbian", "sk": "Slovak",
    "sl": "Slovenian", "es": "Spanish", "sw": "Swahili", "sv": "Swedish", "tl": "Tagalog", "ta": "Tamil",
    "te": "Telugu", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese",
    "cy": "Welsh",
}


@cache
def stop_words(language: str | None) -> frozenset[str]:
    """The language's frequent words (jusText's list), normalised as the analyser does, plus English's
    (headlines everywhere borrow it); English's alone for a language without a list."""
    from justext import get_stoplist  # type: ignore[import-untyped]  # trafilatura's dependency; imported here: only stage 1 needs it

    names = {"English", _STOPLIST_NAMES.get((language or "").split("-")[0].lower(), "English")}
    return frozenset(tokenize(" ".join(word for name in sorted(names) for word in get_stoplist(name))))


def event_features(
    title: Sequence[str], lead: Sequence[str], texts: Iterable[str], entities: Iterable[Mapping[str, Any]],
    language: str | None,
) -> list[str]:
    """The sorted features an item is compared by (see the module docstring).

    ``title`` and ``lead`` are the analyser's tokens (the pipeline has them already);
    ``texts`` the raw title and lead, searched for quotes.
    """
    # all in Rust (wirewatch_native.Featurer): 15-17 -> 8.4-9.1 us an item replayed, 19-21 -> 11.5 inside
    # `wirewatch process` (the bench's 20,000 items, README "Events"; test_features_work_in_any_script,
    # test_single_letters_are_dropped_and_only_han_makes_pairs, test_a_quote_is_6_to_400_characters...)
    return _featurer(language).features(title, lead, texts, entities)


@cache
def _featurer(language: str | None) -> Featurer:
    """The language's :class:`wirewatch_native.Featurer`: its stop words hashed once."""
    return Featurer(stops=sorted(stop_words(language)), stem=STEM, lead_tokens=LEAD_TOKENS,
                    is_character=CHARACTER_TOKEN.match, has_digit=_DIGIT.search, tokenize=tokenize)


@dataclass(slots=True)
class EventVerdict:
    """The event of one item and the events its arrival merged into it."""

    event_id: str
    merged: list[str] = field(default_factory=list)


#: log(1 + df) for the document frequencies a feature scored in candidates can have (a list
#: index instead of a log call); beyond it, the frequency counts as this many.
_LOG_MAX = 4096
_LOG1P = [math.log(1 + df) for df in range(_LOG_MAX + 1)]


class EventIndex:
    """Derived, in memory: the compared items of the window. The numbers (interned features,
    postings, document frequencies, weights, candidates, similarities) are in
    :class:`wirewatch_native.EventCore`; here only what Python reads per row: its event and time."""

    def __init__(self) -> None:
        self.core = EventCore(boost=list(BOOST.items()), prior_docs=PRIOR_DOCS, posting_cap=POSTING_CAP,
                              top_rows=TOP_ROWS, numbers_disagree=NUMBERS_DISAGREE, log1p=_LOG1P)
        self.events: list[str] = []
        self.times: list[float] = []

    def __len__(self) -> int:
        return len(self.events)

    def weights_of(self, features: list[str]) -> dict[str, float]:
        """Each feature's IDF among the rows (and :data:`PRIOR_DOCS`), times its kind's boost
        (``features`` sorted, as :func:`event_features` gives them)."""
        return dict(zip(features, self.core.weights(features), strict=True))

    def alike(self, features: list[str], oldest: float) -> tuple[float, list[tuple[float, int]]]:
        """The features' total weight and (similarity, row) of the :data:`TOP_ROWS` rows sharing
        most of them (ties: features sorted, rows ascending: the same in every process), best
        first, among rows newer than ``oldest``."""
        return self.core.alike(features, oldest)

    def add(self, event: str, features: list[str], weight: float, ts: float) -> None:
        """Index a row (``weight``: its features' total, as the memory record keeps it)."""
        self.core.add(features, weight, ts)
        self.events.append(event)
        self.times.append(ts)


class EventClusterer:
    """Assigns each item its event over the dedupe memory (see the module docstring)."""

    def __init__(
        self, store: MutableMapping[str, Any], threshold: float = THRESHOLD, window: float = WINDOW,
        merge_threshold: float = MERGE_THRESHOLD,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.merge_threshold = merge_threshold
        self.window = window
        self._index: EventIndex | None = None

    def reset_index(self) -> None:
        """Forget the derived index (rebuilt from the memory on next use, e.g. after a rebalance)."""
        self._index = None

    @property
    def index(self) -> EventIndex:
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def _build_index(self) -> EventIndex:
        records = [value for key, value in list(self.store.items())
                   if key.startswith("v:") and value.get("f") is not None and value.get("k") == _VERSION]
        records.sort(key=lambda r: r["t"])  # stable: commit order within one time
        index = EventIndex()
        for record in records:
            index.add(record["e"], record["f"], record["w"], record["t"])
        return index

    def resolve(self, event: str) -> str:
        """The event ``event`` was merged into, if it was (followed through :data:`MAX_HOPS` merges)."""
        for _ in range(MAX_HOPS):
            merged = self.store.get(f"M:{event}")
            if merged is None:
                return event
            event = merged["into"]
        return event

    def _first_seen(self, event: str) -> float:
        record = self.store.get(f"v:{event}")
        return float(record["t"]) if record else math.inf

    def assign(
        self, item_id: str, story_id: str, status: str, features: Sequence[str], ts: float
    ) -> EventVerdict:
        """The item's event; remembers the item (and any merge) in the memory."""
        again = self.store.get(f"v:{item_id}")
        if again is not None:  # a re-delivery or a revision of an item: the event it had
            return EventVerdict(self.resolve(again["e"]), list(again.get("m", [])))
        if status != "new":  # a syndicated copy or an update: its story's event
            story = self.store.get(f"v:{story_id}")
            if story is not None:
                verdict = EventVerdict(self.resolve(story["e"]))
                self.store[f"v:{item_id}"] = {"e": verdict.event_id, "t": ts}
                return verdict
        index = self.index
        features = features if isinstance(features, list) else list(features)  # the index's row shares it
        # the index in Rust (wirewatch_native.EventCore): assign 14.5-17.7 -> 4.1-4.5 us an item replayed, 32-38 -> 10
        # inside `wirewatch process` (the bench's 20,000 items, README "Events";
        # test_similarities_are_the_documented_weighted_dice, test_the_index_rebuilt_from_the_memory...)
        weight, alike = index.alike(features, ts - self.window) if features else (0, [])  # 0: as sum() of none
        events: list[str] = []
        for similarity, row in alike:
            if similarity < (self.merge_threshold if events else self.threshold):
                break
            event = self.resolve(index.events[row])
            if event not in events:
                events.append(event)
        if not events:
            verdict = EventVerdict(story_id)
        else:
            events.sort(key=lambda e: (self._first_seen(e), e))
            verdict = EventVerdict(events[0], events[1:])
            for old in verdict.merged:
                self.store[f"M:{old}"] = {"into": verdict.event_id, "t": ts}
        record: dict[str, Any] = {"e": verdict.event_id, "t": ts, "f": features, "w": weight, "k": _VERSION}
        if verdict.merged:
            record["m"] = verdict.merged
        self.store[f"v:{item_id}"] = record
        if features:
            index.add(verdict.event_id, features, weight, ts)
        return verdict

    def compact(self, oldest: float) -> None:
        """Drop rows older than ``oldest`` from the index (after the memory's purge)."""
        if self._index is not None and self._index.times and self._index.times[0] < oldest:
            self._index = self._build_index()


__all__ = ["EventClusterer", "EventIndex", "EventVerdict", "event_features", "event_key", "stop_words"]
