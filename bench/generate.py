"""Deterministic news items, their intended dedupe labels, and watch rules for the benchmarks.

Everything is drawn from one seeded ``random.Random``, so two runs (and two
machines) measure the same bytes. Items follow ``schemas/raw_item.json`` and
read like wire copy: a story has a beat, a cast (people, places,
organisations), facts, numbers and quotes, and several items: the original,
other outlets' own write-ups (same facts, their own words), wire mirrors with
a byline, exact duplicates from syndication and live-blog posts. Sentences are
built from the phrase grammar in ``bench/beats.py``, so unrelated stories share
few word 3-shingles, as real ones do. :func:`labelled_items` also says what
each item is meant to be, for the dedupe agreement metric. Rules are Lucene
query strings of the kinds a monitoring desk writes: names and phrases,
boolean combinations, ``+``/``-``, ``field:``, proximity and prefixes, some
selective and some broad, so that a realistic share of items alerts.

A quarter of stories (:data:`MULTILINGUAL`) are in a non-Latin script, from the
templates in ``bench/multilingual.py``; a third of English items and half of the
others declare no language, so the processor detects it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench import beats, multilingual
from bench.beats import Beat, Fact, FactSlot, Lead

SEED = 20240611

FIRST_NAMES = (
    "Olaf", "Emmanuel", "Giorgia", "Keir", "Ursula", "Narendra", "Luiz", "Cyril", "Anthony",
    "Janet", "Christine", "Jerome", "Andrew", "Maria", "Ahmed", "Fatima", "Pedro", "Ana",
    "Mark", "Rishi", "Kamala", "Volodymyr", "Recep", "Benjamin", "Yoon", "Fumio", "Justin",
    "Claudia", "Javier", "Gustavo", "Sheikh", "Abiy", "William", "Bola", "Sanna", "Pedro",
    "Elena", "Mette", "Leo", "Viktor", "Donald", "Xi", "Sergei", "Antonio", "Jens", "Kaja",
)
LAST_NAMES = (
    "Scholz", "Macron", "Meloni", "Starmer", "von der Leyen", "Modi", "da Silva", "Ramaphosa",
    "Albanese", "Yellen", "Lagarde", "Powell", "Bailey", "Rossi", "Haddad", "Okafor", "Sánchez",
    "Costa", "Rutte", "Sunak", "Harris", "Zelensky", "Erdoğan", "Netanyahu", "Suk-yeol",
    "Kishida", "Trudeau", "Sheinbaum", "Milei", "Petro", "Hasina", "Ahmed", "Ruto", "Tinubu",
    "Marin", "Frederiksen", "Varadkar", "Orbán", "Lavrov", "Guterres", "Stoltenberg", "Kallas",
    "Müller", "Nakamura", "Kowalski", "Novak", "Dubois", "O'Brien", "García", "Ivanova",
)
PLACES = (
    "Berlin", "Paris", "Rome", "London", "Brussels", "New Delhi", "Brasília", "Pretoria",
    "Canberra", "Washington", "Frankfurt", "Tokyo", "Seoul", "Ottawa", "Mexico City",
    "Buenos Aires", "Bogotá", "Dhaka", "Nairobi", "Lagos", "Helsinki", "Copenhagen", "Dublin",
    "Budapest", "Moscow", "Kyiv", "Ankara", "Jerusalem", "Geneva", "New York", "São Paulo",
    "Jakarta", "Manila", "Karachi", "Cairo", "Addis Ababa", "Johannesburg", "Lisbon", "Madrid",
    "Warsaw", "Prague", "Vienna", "Athens", "Istanbul", "Beijing", "Shanghai", "Hong Kong",
    "Singapore", "Sydney", "Auckland", "Lima", "Santiago", "Quito", "Caracas", "Havana",
)
COUNTRIES = (
    "Germany", "France", "Italy", "Britain", "India", "Brazil", "South Africa", "Australia",
    "United States", "Japan", "South Korea", "Canada", "Mexico", "Argentina", "Colombia",
    "Bangladesh", "Kenya", "Nigeria", "Finland", "Denmark", "Ireland", "Hungary", "Russia",
    "Ukraine", "Turkey", "Israel", "Switzerland", "Indonesia", "Philippines", "Pakistan",
    "Egypt", "Ethiopia", "Portugal", "Spain", "Poland", "Czech Republic", "Austria", "Greece",
    "China", "Singapore", "New Zealand", "Peru", "Chile", "Ecuador", "Venezuela", "Cuba",
)
ORGS = (
    "European Central Bank", "Federal Reserve", "Bank of England", "International Monetary Fund",
    "World Bank", "United Nations", "NATO", "European Commission", "World Health Organization",
    "OPEC", "Siemens", "Volkswagen", "TotalEnergies", "Shell", "BP", "Airbus", "Boeing",
    "Nvidia", "Apple", "Microsoft", "Alphabet", "Amazon", "Meta", "Samsung", "Toyota",
    "Tata Motors", "Petrobras", "Glencore", "Rio Tinto", "BHP", "HSBC", "Deutsche Bank",
    "BNP Paribas", "UniCredit", "Santander", "Pfizer", "Moderna", "Novo Nordisk", "Nestlé",
    "Unilever", "Maersk", "Ericsson", "Nokia", "Spotify", "OpenAI", "Anthropic", "TikTok",
    "Huawei", "Alibaba", "Tencent", "Gazprom", "Rosneft", "Aramco", "ArcelorMittal",
)
SOURCES = (
    ("reuters", "Reuters"), ("ap", "Associated Press"), ("afp", "Agence France-Presse"),
    ("bbc", "BBC News"), ("guardian", "The Guardian"), ("dw", "Deutsche Welle"),
    ("aljazeera", "Al Jazeera"), ("ft", "Financial Times"), ("bloomberg", "Bloomberg"),
    ("nyt", "The New York Times"), ("wapo", "The Washington Post"), ("lemonde", "Le Monde"),
    ("spiegel", "Der Spiegel"), ("elpais", "El País"), ("nhk", "NHK World"),
    ("abc-au", "ABC News Australia"), ("cbc", "CBC News"), ("times-india", "The Times of India"),
    ("folha", "Folha de S.Paulo"), ("nation-ke", "Nation Africa"), ("euronews", "Euronews"),
    ("politico-eu", "Politico Europe"), ("axios", "Axios"), ("cnbc", "CNBC"),
)
AUTHORS = (
    "Anna Schmidt", "James Carter", "Priya Nair", "Lucas Moreau", "Sofia Conti", "Kenji Sato",
    "Amara Okoye", "Daniel Levy", "Marta Kowalczyk", "Tomás Herrera", "Emily Clarke",
)


#: Topic -> keywords (the rules' topic words; the beat grammar writes them into the text).
TOPICS: dict[str, tuple[str, ...]] = {
    "monetary": ("interest rates", "inflation", "rate cut", "rate hike", "monetary policy", "bond yields",
                 "central bank", "basis points", "core inflation", "price stability"),
    "election": ("election", "polls", "ballot", "coalition", "parliament", "vote", "turnout",
                 "campaign", "opposition", "runoff"),
    "quake": ("earthquake", "magnitude", "aftershocks", "rescue teams", "death toll", "tsunami warning",
              "rubble", "epicentre", "evacuation", "humanitarian aid"),
    "merger": ("merger", "acquisition", "takeover bid", "shareholders", "antitrust", "deal", "billion",
               "regulators", "hostile bid", "due diligence"),
    "trial": ("trial", "court", "verdict", "prosecutors", "charges", "judge", "testimony",
              "acquitted", "sentenced", "arrest warrant"),
    "tech": ("artificial intelligence", "chips", "semiconductor", "data centre", "cyberattack",
             "smartphone", "export controls", "cloud", "launch", "regulation"),
    "climate": ("climate", "emissions", "heatwave", "wildfire", "floods", "drought", "renewable energy",
                "carbon", "summit", "net zero"),
    "conflict": ("ceasefire", "missile", "drone strike", "troops", "sanctions", "peace talks",
                 "air defence", "shelling", "hostages", "border"),
    "health": ("outbreak", "vaccine", "virus", "hospital", "pandemic", "cases", "public health",
               "clinical trial", "drug approval", "mpox"),
    "sport": ("world cup", "final", "championship", "coach", "transfer", "olympics", "record",
              "injury", "semi-final", "goal"),
}
assert list(TOPICS) == list(beats.BEATS)

BLOG_LEADS = (
    "Live: {title}",
    "As it happened: {title}",
    "Live updates: {title}",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: What an English item declares; None: the feed declares nothing (detected by the processor).
LANGS = ("en",) * 11 + ("en-GB", "en-US") + (None,) * 7
#: Share of stories written in a non-Latin script (``bench/multilingual.py``).
MULTILINGUAL = 0.25
#: Share of those stories' items whose feed declares their language.
MULTILINGUAL_DECLARED = 0.5

#: Names that take "the" in running text ("the World Bank", "the Philippines").
WITH_ARTICLE = frozenset({
    "European Central Bank", "Federal Reserve", "Bank of England", "International Monetary Fund",
    "World Bank", "United Nations", "European Commission", "World Health Organization",
    "United States", "Philippines", "Czech Republic",
})
#: Story words a beat's grammar refers to ({currency}, {crime}, ...): fixed per story.
STORY_WORDS: dict[str, tuple[str, ...]] = {
    "currency": ("euro", "dollar", "pound", "yen", "rupee", "real", "peso", "lira"),
    "crime": ("corruption", "fraud", "bribery", "money laundering", "embezzlement", "tax evasion"),
    "issue": ("the cost of living", "migration", "corruption", "security", "jobs", "housing",
              "energy prices", "health care", "pensions", "crime"),
    "dir": ("north", "south", "east", "west", "north-east", "north-west", "south-east", "south-west"),
    "facility": ("energy facility", "power plant", "fuel depot", "rail hub", "port", "substation"),
    "event": ("100 metres", "400 metres", "marathon", "1,500 metres", "200 metres freestyle",
              "10,000 metres", "3,000 metres steeplechase"),
    "injury": ("knee", "hamstring", "ankle", "shoulder", "back", "calf"),
    "disease": ("mpox", "cholera", "measles", "dengue", "a new strain of influenza", "the virus"),
    "score": ("1-0", "2-1", "3-1", "2-0", "3-2", "4-1", "4-2"),
    "sector": ("energy", "banking", "technology", "pharmaceutical", "consumer goods", "mining", "telecoms"),
}
#: Stock sentences an item may use at most: a long item ends when its story runs out.
MAX_FILLER = 4
#: Background sentences an item may use at most (stories on one beat share their templates).
MAX_CONTEXT = 5


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _the(name: str) -> str:
    return f"the {name}" if name in WITH_ARTICLE else name


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


# ---------------------------------------------------------------- the phrase grammar

@dataclass(frozen=True)
class _Slot:
    name: str


@dataclass(frozen=True)
class _Alt:
    options: tuple[tuple[str | _Slot | _Alt, ...], ...]


_Seq = tuple[str | _Slot | _Alt, ...]
_TOKEN = re.compile(r"\[|\]|\||\{[a-z0-9_]+\}|[^\[\]|{]+|\{")
_PARSED: dict[str, _Seq] = {}


def _parse(template: str) -> _Seq:
    """``[a|b]`` and ``{slot}`` into a tree, once per template (a bare ``|`` outside brackets is text)."""
    seq = _PARSED.get(template)
    if seq is None:
        tokens = _TOKEN.findall(template)
        seq, _ = _parse_seq(tokens, 0, top=True)
        _PARSED[template] = seq
    return seq


def _parse_seq(tokens: list[str], i: int, top: bool = False) -> tuple[_Seq, int]:
    out: list[str | _Slot | _Alt] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok == "[":
            options: list[_Seq] = []
            i += 1
            while True:
                option, i = _parse_seq(tokens, i)
                options.append(option)
                if i >= len(tokens) or tokens[i] == "]":
                    break
                i += 1  # the "|"
            out.append(_Alt(tuple(options)))
        elif tok in ("]", "|") and not top:
            return tuple(out), i
        elif tok.startswith("{") and tok.endswith("}") and len(tok) > 2:
            out.append(_Slot(tok[1:-1]))
        else:
            out.append(tok)
        i += 1
    return tuple(out), i


_SPACES = re.compile(r" {2,}")
#: A predicate that already says when: no circumstance of time is added.
_TIMED = re.compile(r"\{weekday\}|\{month\}|\{year|week|year|day|season|hours|night|later|earlier|since")
#: A predicate that already reports speech ("said ...") takes no second attribution.
_SPEECH = re.compile(r"\[?(said|told|warned|\[said|\[told|\[warned)\b")
_SPACE_PUNCT = re.compile(r" ([,.;:])")


def _finish(text: str, end: str = ".") -> str:
    """Tidy spacing, capitalise the first letter (after an opening quote), close the sentence."""
    text = _SPACE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip().replace(",,", ",")
    at = 1 if text.startswith('"') else 0
    text = text[:at] + text[at : at + 1].upper() + text[at + 1 :]
    if end and text[-1] not in ".!?\"":
        text = text.rstrip(",") + end
    return text


# ---------------------------------------------------------------- stories

@dataclass
class _Story:
    """What every item of one story shares: beat, cast, numbers, facts and quotes."""

    topic: str
    beat: Beat
    lead: Lead
    slots: dict[str, str]
    persons: dict[str, tuple[str, str]]
    published: datetime
    facts: list[Fact] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (speaker slot, fixed text)
    items: list[dict[str, Any]] = field(default_factory=list)
    foreign: multilingual.Story | None = None  # set: the story is in that language, not English


def _cast(rng: random.Random) -> dict[str, tuple[str, str]]:
    """Four people with different surnames, so a surname on second reference is unambiguous."""
    people: dict[str, tuple[str, str]] = {}
    while len(people) < 4:
        first, last = _person(rng)
        if all(last != p[1] for p in people.values()):
            people[f"p{len(people) + 1}"] = (first, last)
    return people


def _story_slots(rng: random.Random, beat: Beat) -> dict[str, str]:
    """Names, places, dates and numbers of one story (strings; roles are templates)."""
    org = rng.choice(beat.orgs)
    org2 = rng.choice([o for o in beat.orgs2 if o != org])
    country, country2 = rng.sample(COUNTRIES, 2)
    place, place2 = rng.sample(PLACES, 2)
    words = {name: rng.choice(pool) for name, pool in STORY_WORDS.items()}
    issue2 = rng.choice([i for i in STORY_WORDS["issue"] if i != words["issue"]])
    facility = words["facility"]
    slots = {
        "org": _the(org), "org2": _the(org2), "org_name": org, "org2_name": org2,
        "bank": rng.choice(beats.BANKS),
        "country": _the(country), "country2": _the(country2),
        "country_name": country, "country2_name": country2,
        "place": place, "place2": place2,
        "month": rng.choice(MONTHS), "weekday": rng.choice(WEEKDAYS),
        "year": str(rng.randint(1990, 2023)), "year2": str(rng.randint(2030, 2060)),
        "n": str(rng.randint(2, 90)), "n2": str(rng.randint(2, 12)), "n3": str(rng.randint(20, 4000)),
        "minute": _ordinal(rng.randint(2, 90)),
        "pct": f"{rng.randint(1, 40)}.{rng.randint(0, 9)}", "pct2": f"{rng.randint(1, 9)}.{rng.randint(0, 9)}",
        "pct3": f"{rng.randint(0, 4)}.{rng.randint(1, 9)}",
        "rate": f"{rng.randint(0, 6)}{rng.choice(('', '.25', '.5', '.75'))}",
        "bps": str(rng.choice((25, 50, 75))), "mag": f"{rng.randint(5, 8)}.{rng.randint(0, 9)}",
        "deaths": str(rng.randint(20, 4000)), "injured": str(rng.randint(50, 9000)),
        "km": str(rng.randint(5, 150)), "depth": str(rng.randint(5, 60)),
        "bn": str(rng.randint(1, 90)), "bn2": str(rng.randint(1, 30)), "m": str(rng.randint(5, 900)),
        "deg": str(rng.randint(38, 48)), "turnout": str(rng.randint(38, 84)),
        "seats": str(rng.randint(120, 650)), "aid": str(rng.randint(5, 500)),
        "max_years": str(rng.randint(5, 25)), "mw": str(rng.randint(50, 900)),
        "fee": str(rng.randint(40, 220)), "eff": str(rng.randint(60, 97)),
        "infl": f"{rng.randint(1, 9)}.{rng.randint(0, 9)}", "share": f"{rng.randint(30, 62)}.{rng.randint(0, 9)}",
        **words, "issue2": issue2,
        "a_facility": ("an " if facility[0] in "aeiou" else "a ") + facility,
    }
    for i, pool in enumerate(beat.roles, 1):
        slots[f"r{i}"] = rng.choice(pool)
    return slots


def _new_story(rng: random.Random, published: datetime) -> _Story:
    topic = rng.choice(list(TOPICS))
    beat = beats.BEATS[topic]
    lead = rng.choice(beat.leads)
    story = _Story(topic, beat, lead, _story_slots(rng, beat), _cast(rng), published)
    chosen: list[FactSlot] = rng.sample(beat.facts, min(len(beat.facts), rng.randint(7, 11)))
    for slot in (*lead.facts, *chosen):
        story.facts.append(rng.choice(slot) if isinstance(slot, tuple) else slot)
    writer = _Writer(rng, story, outlet="", author="")
    pool = (*lead.quotes, *beat.quotes)
    templates = rng.sample(pool, min(len(pool), rng.randint(2, 4)))
    for template in templates:
        speaker = "p1" if template in lead.quotes else rng.choice(("p1", "p2", "p3"))
        story.quotes.append((speaker, _finish(writer.render(template), end="")))
    return story


# ---------------------------------------------------------------- one item's text

class _Writer:
    """Writes one item of a story: its own choices of wording, the story's facts.

    Tracks who has been named, so a person gets the full name first and the
    surname after, as wire copy does.
    """

    def __init__(self, rng: random.Random, story: _Story, outlet: str, author: str) -> None:
        self.rng = rng
        self.story = story
        self.outlet = outlet
        self.author = author
        self.named: set[str] = set()

    def slot(self, name: str) -> str:
        """A story slot, or a value drawn now for the ``any_*`` ones."""
        rng, story = self.rng, self.story
        if name in story.persons:
            first, last = story.persons[name]
            if name in self.named:
                return last
            self.named.add(name)
            return f"{first} {last}"
        if name.endswith("_last") and name[:-5] in story.persons:
            return story.persons[name[:-5]][1]
        if name in story.slots:
            value = story.slots[name]
            return self.render(value) if "{" in value else value
        draws: dict[str, Callable[[], str]] = {
            "any_person": lambda: " ".join(_person(rng)),
            "any_place": lambda: rng.choice(PLACES),
            "any_country": lambda: _the(rng.choice(COUNTRIES)),
            "any_org": lambda: _the(rng.choice(story.beat.orgs2)),
            "any_bank": lambda: rng.choice(beats.BANKS),
            "any_year": lambda: str(rng.randint(2010, 2024)),
            "any_n2": lambda: str(rng.randint(2, 12)),
            "any_nth": lambda: _ordinal(rng.randint(2, 12)),
            "any_n3": lambda: str(rng.randint(20, 4000)),
            "any_pct": lambda: f"{rng.randint(1, 15)}.{rng.randint(0, 9)}",
            "any_bn": lambda: str(rng.randint(1, 90)),
            "any_mag": lambda: f"{rng.randint(6, 8)}.{rng.randint(0, 9)}",
            "any_turnout": lambda: str(rng.randint(38, 84)),
            "any_sector": lambda: rng.choice(STORY_WORDS["sector"]),
            "any_author": lambda: rng.choice(AUTHORS),
            "outlet": lambda: self.outlet,
            "author": lambda: self.author,
            "author2": lambda: rng.choice([a for a in AUTHORS if a != self.author]),
        }
        return draws[name]()

    def render(self, template: str) -> str:
        return self._walk(_parse(template))

    def _walk(self, seq: _Seq) -> str:
        out: list[str] = []
        for part in seq:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, _Slot):
                out.append(self.slot(part.name))
            else:
                out.append(self._walk(self.rng.choice(part.options)))
        return "".join(out)

    def _free(self, pool: tuple[str, ...], used: str) -> str:
        """An entry of ``pool`` that does not repeat the weekday, place or person already in ``used``."""
        fresh = [p for p in pool if not any(s in p and s in used for s in ("{weekday}", "{place}", "{p3}"))]
        return self.rng.choice(fresh or pool)

    def fact(self, fact: Fact, lead: bool = False) -> str:
        """One sentence for a fact: a subject, a predicate and a frame around them."""
        rng = self.rng
        pred = rng.choice(fact.predicates)
        subj = rng.choice(fact.subjects) if fact.subjects else ""
        used = subj + pred
        timed = _TIMED.search(pred) is not None
        circ = self._free(beats.CIRCUMSTANCE, used) if (lead or rng.random() < 0.2) and not timed else ""
        core = f"{subj} {pred}" if subj else pred
        frames = [("{core}{circ}.", 5.0), ("{opener}, {core}.", 1.5 if subj else 0.0)]
        if not fact.own and not _SPEECH.match(pred):
            frames += [("{core}{circ}, {attr} said.", 2.0), ("{core}{circ}, according to {acc}.", 1.2),
                       ("{attr} said {core}{circ}.", 0.0 if lead else 1.2)]
        frame = rng.choices([f for f, _ in frames], [w for _, w in frames])[0]
        text = frame.format(
            core=core, circ=circ,
            opener=self._free(beats.OPENER, used) if "{opener}" in frame else "",
            attr=self._free(beats.ATTRIBUTION, used) if "{attr}" in frame else "",
            acc=self._free(beats.ACCORDING, used) if "{acc}" in frame else "",
        )
        return _finish(self.render(text))

    def quote(self, speaker: str, text: str) -> str:
        frame = self.rng.choice(beats.QUOTE_FRAMES).replace("{who}", "{" + speaker + "}")
        return _finish(self.render(frame).replace("{Q}", text))

    def free_sentence(self, template: str) -> str:
        return _finish(self.render(template))

    def title(self) -> str:
        self.named, named = set(), self.named
        title = _finish(self.render(self.rng.choice(self.story.lead.headlines)), end="")
        self.named = named
        return title

    def story_deck(self) -> list[Callable[[], str]]:
        """The story's facts and (most of) its quotes, in this item's order."""
        rng, story = self.rng, self.story
        deck: list[Callable[[], str]] = [partial(self.fact, f) for f in story.facts]
        deck += [partial(self.quote, *q) for q in story.quotes if rng.random() < 0.75]
        rng.shuffle(deck)
        return deck

    def extras(self) -> list[str]:
        """This item's background and stock sentences (a few of each, none twice), in order of use."""
        rng = self.rng
        context = rng.sample(self.story.beat.context, min(MAX_CONTEXT, len(self.story.beat.context)))
        filler = rng.sample(beats.FILLER, MAX_FILLER)
        out: list[str] = []
        while context or filler:
            source = context if context and (not filler or rng.random() < 0.6) else filler
            out.append(source.pop())
        return out

    def body(self) -> str:
        """80-400 words: the lead, then the story's facts and quotes with background mixed in."""
        rng = self.rng
        target = rng.randint(80, 400)
        sentences = [self.fact(self.story.lead.main, lead=True)]
        words = len(sentences[0].split())
        deck = self.story_deck()
        extras = self.extras()
        while words < target:
            if deck and (len(sentences) < 3 or rng.random() < 0.72):
                sentence = deck.pop()()
            elif extras:
                sentence = self.free_sentence(extras.pop())
            elif deck:
                sentence = deck.pop()()
            else:
                break
            n = len(sentence.split())
            if words + n > target and words >= 80:  # the next sentence would overshoot
                break
            sentences.append(sentence)
            words += n
        paragraphs = self._paragraphs(sentences)
        if rng.random() < 0.3:
            sign_off = self.free_sentence(rng.choice(beats.SIGN_OFF))
            if words + len(sign_off.split()) <= 400:
                paragraphs.append(sign_off)
        return "\n\n".join(paragraphs)

    def liveblog(self) -> str:
        """A live-blog post: 6-12 sentences about the story, in short paragraphs."""
        rng = self.rng
        pool: list[Callable[[], str]] = self.story_deck()
        pool += [partial(self.free_sentence, t) for t in self.story.beat.context]
        rng.shuffle(pool)
        sentences = [make() for make in pool[: rng.randint(6, 12)]]
        return "\n\n".join(self._paragraphs(sentences, most=2))

    def _paragraphs(self, sentences: list[str], most: int = 3) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(sentences):
            take = self.rng.choices((1, 2, 3)[:most], (3, 5, 2)[:most])[0]
            out.append(" ".join(sentences[i : i + take]))
            i += take
        return out


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item(rng: random.Random, story: _Story, n: int, kind: str) -> dict[str, Any]:
    source_id, source_name = rng.choice(SOURCES)
    published = story.published + timedelta(minutes=rng.randint(0, 180))
    author = rng.choice(AUTHORS)
    writer = _Writer(rng, story, source_name, author)
    first = story.items[0] if story.items else None
    copied = first is not None and kind in ("mirror", "duplicate")
    title = first["title"] if copied and first else writer.title()
    slug = "-".join(title.lower().split()[:6]).replace("$", "").replace(",", "").replace("%", "")
    item: dict[str, Any] = {
        "id": f"{source_id}:{n:07d}",
        "source": {"id": source_id, "name": source_name},
        "url": f"https://{source_id}.example/{published:%Y/%m/%d}/{slug}-{n}",
        "title": title,
        "body": "",
        "published_at": _ts(published),
        "fetched_at": _ts(published + timedelta(seconds=rng.randint(5, 600))),
        "authors": [author] if rng.random() < 0.7 else [],
        "language": rng.choice(LANGS),  # None (not declared) is dropped below
        "tags": [*sorted(set(rng.sample(TOPICS[story.topic], rng.randint(0, 3)))), story.topic],
        "revision": 1,
    }
    if story.foreign is not None:
        _foreign_text(rng, story.foreign, item, first, kind)
    elif kind == "mirror" and first:  # wire copy republished with a byline and a tail
        item["body"] = f"By {rng.choice(AUTHORS)}\n\n{first['body']}\n\nContinue reading on {source_name}."
    elif kind == "duplicate" and first:  # syndicated verbatim under another id
        item["body"] = first["body"]
    elif kind == "liveblog" and first:
        page = first["url"].replace("https://", "https://live.")
        item["title"] = rng.choice(BLOG_LEADS).format(title=first["title"])
        item["body"] = writer.liveblog()
        block = f"block-{rng.randint(1, 3)}"
        item["id"] = f"{first['source']['id']}:live:{page.rsplit('-', 1)[-1]}:{block}"
        item["source"] = dict(first["source"])
        item["liveblog"] = {"page_url": page, "block_id": block}
        item["revision"] = rng.randint(1, 3)
    else:  # an original: the story's first item, or another outlet's own take on it
        item["body"] = writer.body()
    if item["language"] is None:
        del item["language"]
    return item


def _foreign_text(rng: random.Random, foreign: multilingual.Story, item: dict[str, Any],
                  first: dict[str, Any] | None, kind: str) -> None:
    """Title, body and declared language of an item of a non-English story (ids, urls and
    live-blog fields as for English ones)."""
    item["language"] = rng.choice(foreign.lang.declared) if rng.random() < MULTILINGUAL_DECLARED else None
    if kind in ("mirror", "duplicate") and first:
        item["title"] = first["title"]
        item["body"] = (first["body"] if kind == "duplicate" else
                        multilingual.mirror(rng, foreign, first["body"], item["authors"][0] if item["authors"]
                                            else rng.choice(AUTHORS), item["source"]["name"]))
    elif kind == "liveblog" and first:
        item["title"] = multilingual.live_title(foreign, first["title"])
        item["body"] = multilingual.body(rng, foreign, most=4)
    else:
        item["title"] = multilingual.title(rng, foreign)
        item["body"] = multilingual.body(rng, foreign)


def labelled_items(count: int, seed: int = SEED) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """``count`` raw items with what each is meant to be: ``{"id", "kind", "story"}``.

    ``kind`` is ``original`` (a story's first item), ``rewrite`` (another
    outlet's own write-up of it), ``mirror``, ``duplicate`` or ``liveblog``;
    ``story`` is the id of the story's first item. Items are story by story:
    ~55% start a story, the rest are rewrites of the newest story and mirrors,
    duplicates and live-blog posts of a recent one.
    """
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    out: list[tuple[dict[str, Any], dict[str, str]]] = []
    stories: list[_Story] = []
    n = 0
    while len(out) < count:
        if not stories or rng.random() < 0.55:
            stories.append(_new_story(rng, start + timedelta(minutes=len(out) // 3)))
            if rng.random() < MULTILINGUAL:
                stories[-1].foreign = multilingual.new_story(rng)
            stories = stories[-200:]
            kind = "original"
        else:
            kind = rng.choices(("original", "mirror", "duplicate", "liveblog"), (40, 25, 15, 20))[0]
        story = stories[-1] if kind == "original" else rng.choice(stories)
        if kind == "original" and story.items and story.foreign is not None:
            kind = "mirror"  # the templates can't write another outlet's own take: it would read as a near-duplicate
        item = _item(rng, story, n, kind)
        label = "rewrite" if kind == "original" and story.items else kind
        if kind == "mirror" and any(i["body"] == item["body"] for i in story.items):
            label = "duplicate"  # same outlet and byline as an earlier mirror: the very same text
        first_id = story.items[0]["id"] if story.items else item["id"]
        story.items.append(item)
        out.append((item, {"id": item["id"], "kind": label, "story": first_id}))
        n += 1
    return out


def items(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` raw items (those of :func:`labelled_items`, without the labels)."""
    return [item for item, _ in labelled_items(count, seed)]


# ---------------------------------------------------------------- rules

def _quoted(text: str) -> str:
    return '"' + text.replace('"', "") + '"'


def _term(text: str) -> str:
    """A name as a rule author writes it: one word bare, several words as a phrase."""
    return _quoted(text) if " " in text or "-" in text else text


def _rule_query(rng: random.Random) -> tuple[str, str]:
    """One rule of a kind drawn by desk-realistic weights: ``(kind, query)``."""
    topic = rng.choice(list(TOPICS))
    keywords = TOPICS[topic]
    kw, kw2 = rng.sample(keywords, 2)
    person = rng.choice(LAST_NAMES)
    full = " ".join(_person(rng))
    org, org2, org3 = rng.sample(ORGS, 3)
    country = rng.choice(COUNTRIES)
    place = rng.choice(PLACES)
    source = rng.choice(SOURCES)[0]
    noise = rng.choice(("rumour", "opinion", "sponsored", "podcast"))
    stem = rng.choice(("elect", "sanction", "inflat", "vaccin", "earthquak", "merg", "acqui",
                       "wildfir", "hostag", "semicond", "cyber", "prosecut", "transfer"))
    near = rng.choice(((org, kw), (person, kw), (country, kw2)))
    kinds: dict[str, tuple[float, str]] = {
        # selective: a name in a context
        "name_topic": (14, f"{_term(person)} AND {_term(kw)} AND {_term(kw2)}"),
        "org_context": (12, f"{_term(org)} AND ({_term(kw)} OR {_term(kw2)}) AND {_term(country)}"),
        "full_name": (14, _quoted(full)),
        "place_topic": (8, f"{_term(place)} AND {_term(kw)} AND {_term(kw2)} AND {_term(country)} NOT {_term(rng.choice(TOPICS['sport']))}"),
        "must_must_not": (8, f"+{_term(org)} +{_term(kw)} +{_term(country)} -{_term(noise)}"),
        "title_only": (8, f"title:{_term(kw)} AND title:{_term(country)}"),
        "proximity": (8, '"' + f"{near[0]} {near[1]}".replace('"', "") + f'"~{rng.choice((3, 5, 8))}'),
        "prefix": (5, f"{stem}* AND {_term(country)} AND {_term(place)}"),
        "source_topic": (5, f"source:{source} AND {_term(kw)} AND {_term(kw2)}"),
        "tags": (4, f"tags:{_term(kw)} AND {_term(country)}"),
        "two_orgs": (6, f"{_term(org)} AND {_term(org2)}"),
        "competitors": (5, f"({_term(org)} OR {_term(org2)} OR {_term(org3)}) AND title:{_term(kw)}"),
        "language_desk": (2, f"{_term(kw)} AND {_term(place)} AND NOT language:{rng.choice(('de', 'fr', 'es'))}"),
        # broad: a whole beat
        "beat": (0.4, " OR ".join(_term(p) for p in rng.sample(keywords, 2))),
    }
    names = list(kinds)
    kind = rng.choices(names, weights=[kinds[k][0] for k in names])[0]
    return kind, kinds[kind][1]


def rules(count: int = 1000, seed: int = SEED) -> list[dict[str, str]]:
    """``count`` rules ``{"id", "query"}`` in Lucene query syntax, unique queries."""
    rng = random.Random(seed + 1)
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    while len(out) < count:
        _kind, query = _rule_query(rng)
        if query in seen:
            continue
        seen.add(query)
        out.append({"id": f"r{len(out):04d}", "query": query})
    return out


def write_jsonl(path: Path, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_rules_yaml(path: Path, rule_list: list[dict[str, str]]) -> Path:
    """A rules file for ``--rules`` (``rules: [{id, query}]``; YAML is a JSON superset)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rules": rule_list}, ensure_ascii=False, indent=1), "utf-8")
    return path


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write bench items and rules.")
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/data"))
    ns = parser.parse_args()
    pairs = labelled_items(ns.items)
    write_jsonl(ns.out / "items.jsonl", [item for item, _ in pairs])
    write_jsonl(ns.out / "labels.jsonl", [label for _, label in pairs])
    write_rules_yaml(ns.out / "rules.yaml", rules(ns.rules))
    print(f"wrote {ns.items} items (+ labels.jsonl) and {ns.rules} rules under {ns.out}")
