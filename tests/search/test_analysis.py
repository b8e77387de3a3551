"""analysis: the one normalisation shared by the matcher and the Elasticsearch indexer."""

from __future__ import annotations

import pytest

from wirewatch.search.analysis import MAX_TOKEN_LENGTH, normalize, search_fields, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café Zürich, naïve crème brûlée", "cafe zurich naive creme brulee"),
        ("Straße Ærø Øresund Łódź Đoković Þór Œuvre", "strasse aero oresund lodz dokovic thor oeuvre"),
        ("São Paulo İstanbul Türkiye", "sao paulo istanbul turkiye"),  # İ -> i as Java lowercases it
        ("ＦＵＬＬ ｗｉｄｔｈ ①", "full width"),  # fullwidth folded; ① is no token for Lucene
        ("ﬁnance Ⅻ", "finance ⅻ"),  # the ligature folds, the Roman numeral does not
    ],
)
def test_folds_latin_as_lucenes_ascii_folding(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # UAX#29 joiners keep these whole, as Lucene's StandardTokenizer does
        ("U.S.A. don't 3.14 1,000 foo_bar", "u.s.a don't 3.14 1,000 foo_bar"),
        ("COVID-19, U.S. 7.8%", "covid 19 u.s 7.8"),
        ("e-mail@example.com 10:30 a:b", "e mail example.com 10 30 a:b"),
        ("don’t", "don't"),  # U+2019 folds to an apostrophe
        ("e\u0301te\u0301", "ete"),  # composed (NFC) first, then folded
        ("ad\u00adminis\u200etration", "administration"),  # invisible soft hyphen and LRM dropped
        ("a\u200db", "a\u200db"),  # a zero-width joiner stays (Lucene keeps it inside the word)
    ],
)
def test_splits_words_as_lucenes_standard_tokenizer(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Xi Jinping's visit", "xi jinping visit"),
        ("Xi Jinping’s visit", "xi jinping visit"),
        ("XI JINPING'S VISIT", "xi jinping visit"),
        ("the manager's future", "the manager future"),
        ("rock'n'roll's", "rock'n'roll"),
        ("1990's", "1990 s"),  # no apostrophe joins a number to a letter, so no possessive
        ("'s", "s"),  # nothing before the apostrophe
        ("O'Neill", "o'neill"),  # an apostrophe between letters is inside the word
        ("it'sy", "it'sy"),  # 's followed by a letter is not an ending
    ],
)
def test_drops_english_possessive(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_spelling_variants_stay_distinct_aliasing_is_for_entities() -> None:
    assert normalize("Zelenskyy") != normalize("Zelensky")


def test_greek_and_cyrillic_keep_every_letter_lowercased_as_java() -> None:
    # no folding outside Latin: й stays й, Greek accents stay; Σ is always σ (no final ς)
    assert normalize("ΑΘΗΝΑ Αθήνα Οδός ΟΔΟΣ") == "αθηνα αθήνα οδός οδοσ"
    assert normalize("Зеленський ЗЕЛЕНСЬКИЙ Зеленский") == "зеленський зеленський зеленский"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("习近平 访问 莫斯科", "习 近 平 访 问 莫 斯 科"),  # one token per Han ideograph
        ("東京 とうきょう カタカナ", "東 京 と う き ょ う カタカナ"),  # Hiragana per character, Katakana runs
        ("한국 대통령은", "한국 대통령은"),  # Hangul words
        ("بوتين يلتقي شي", "بوتين يلتقي شي"),
        ("پوتین می‌خواهد", "پوتین می\u200cخواهد"),  # Persian ZWNJ stays inside the word
        ("צה\"ל אמר", "צה\"ל אמר"),  # Hebrew gershayim as a quote (WB7b/c)
        ("पुतिन ने कहा", "पुतिन ने कहा"),
        ("นายกรัฐมนตรี ไทย", "นายกรัฐมนตรี ไทย"),  # Thai runs are one token each
        ("Việt Nam", "viet nam"),
        ("İstanbul'da Türkiye", "istanbul'da turkiye"),
        ("٣٫١٤ ۱۴۰۳", "٣٫١٤ ۱۴۰۳"),  # Arabic-Indic digits are numbers, not folded
    ],
)
def test_every_script_is_searchable(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ceasefire 🕊️ now", ["ceasefire", "🕊️", "now"]),
        ("👍🏽 👨\u200d👩\u200d👧 🇺🇦🇷🇺 #️⃣", ["👍🏽", "👨\u200d👩\u200d👧", "🇺🇦", "🇷🇺", "#️⃣"]),
        ("\u200fمرحبا\u200e abc", ["مرحبا", "abc"]),  # direction marks dropped from the word
        ("\ue000\U0010fffd \u0378", []),  # private use and unassigned: no token
        ("a\u0301\u0301\u0301", ["a\u0301\u0301"]),  # NFC makes á, folded to a; the other marks stay
    ],
)
def test_emoji_marks_and_unassigned_code_points(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_words_longer_than_lucene_max_are_split_like_the_standard_tokenizer() -> None:
    assert tokenize("a" * (MAX_TOKEN_LENGTH + 10)) == ["a" * MAX_TOKEN_LENGTH, "a" * 10]


def test_tokenize_is_normalize_split() -> None:
    text = "Xi Jinping’s COVID-19 visit to Łódź"
    assert tokenize(text) == normalize(text).split(" ") == ["xi", "jinping", "covid", "19", "visit", "to", "lodz"]
    assert tokenize("Paris\u202f: fin") == ["paris", "fin"]  # U+202F is a space here, not Lucene's joiner
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
