"""analysis: the one normalisation shared by the matcher and the Elasticsearch indexer."""

from __future__ import annotations

import pytest

from wirewatch.search.analysis import MAX_TOKEN_LENGTH, normalize, search_fields, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café Zürich, naïve crème brûlée", "cafe zurich naive creme brulee"),
        ("Straße Ærø Øresund Łódź Đoković Þór Œuvre", "strasse aero oresund lodz dokovic thor oeuvre"),
        ("São Paulo İstanbul Türkiye", "sao paulo istanbul turkiye"),
        ("e\u0301te\u0301", "ete"),  # decomposed accents
        ("ＦＵＬＬ ｗｉｄｔｈ ①", "full width 1"),
        ("ad\u00adminis\u200dtration", "administration"),  # soft hyphen, zero-width joiner
        ("COVID-19, U.S. 7.8%", "covid 19 u s 7 8"),
        ("foo_bar e-mail@example.com", "foo bar e mail example com"),
    ],
)
def test_folds_to_lowercase_ascii_words(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Xi Jinping's visit", "xi jinping visit"),
        ("Xi Jinping’s visit", "xi jinping visit"),
        ("XI JINPING'S VISIT", "xi jinping visit"),
        ("the manager's future", "the manager future"),
        ("rock'n'roll's", "rock n roll"),
        ("1990's", "1990 s"),  # after a digit it is not a possessive (as Lucene)
        ("'s", "s"),  # nothing before the apostrophe
        ("O'Neill", "o neill"),  # apostrophe inside a name separates words
        ("it'sy", "it sy"),  # 's followed by a letter is not an ending
    ],
)
def test_drops_english_possessive(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_spelling_variants_stay_distinct_aliasing_is_for_entities() -> None:
    assert normalize("Zelenskyy") != normalize("Zelensky")


def test_greek_and_cyrillic_are_kept_lowercase_without_accents() -> None:
    assert normalize("ΑΘΗΝΑ Αθήνα Οδός") == "αθηνα αθηνα οδοσ"
    assert normalize("Зеленський ЗЕЛЕНСЬКИЙ") == "зеленськии зеленськии"


def test_other_scripts_are_not_searchable_yet() -> None:
    assert normalize("北京 Beijing 東京") == "beijing"


def test_words_longer_than_lucene_max_are_split_like_the_standard_tokenizer() -> None:
    assert tokenize("a" * (MAX_TOKEN_LENGTH + 10)) == ["a" * MAX_TOKEN_LENGTH, "a" * 10]


def test_tokenize_is_normalize_split() -> None:
    text = "Xi Jinping’s COVID-19 visit to Łódź"
    assert tokenize(text) == normalize(text).split() == ["xi", "jinping", "covid", "19", "visit", "to", "lodz"]
    assert tokenize("") == [] and normalize("?!") == ""


def test_search_fields_of_a_processed_item() -> None:
    item = {
        "id": "x", "title": "Zelenskyy’s Visit", "body": "In Kyiv.",
        "source": {"id": "kyiv-independent", "name": "The Kyiv Independent"},
        "entities": [{"name": "Volodymyr Zelenskyy", "type": "PERSON"}, {"name": "Kyiv", "type": "GPE"}],
        "tags": ["War", "", "Ukraine-Russia"], "language": "EN",
    }
    assert search_fields(item) == {
        "title": "zelenskyy visit",
        "body": "in kyiv",
        "source": ["kyiv independent", "the kyiv independent"],
        "entity": ["volodymyr zelenskyy", "kyiv"],
        "tags": ["war", "ukraine russia"],  # empty values dropped: they would only shift positions
        "language": "en",
    }


def test_search_fields_of_a_raw_item_without_optional_fields() -> None:
    assert search_fields({"title": "T", "body": "", "source": {"id": "afp"}}) == {
        "title": "t", "body": "", "source": ["afp"], "entity": [], "tags": [], "language": "",
    }
