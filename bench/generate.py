"""Deterministic news items and watch rules for the benchmarks.

Everything is drawn from one seeded ``random.Random``, so two runs (and two
machines) measure the same bytes. Items follow ``schemas/raw_item.json`` and
read like wire copy: a story has a topic, a cast (people, places,
organisations) and several items (the original, wire mirrors with a byline,
exact duplicates from syndication, live-blog updates). Rules are Lucene
query strings of the kinds a monitoring desk writes: names and phrases,
boolean combinations, ``+``/``-``, ``field:``, proximity and prefixes, some
selective and some broad, so that a realistic share of items alerts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

#: Topic -> (keywords, headline templates, body sentence templates).
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "monetary": (
        ("interest rates", "inflation", "rate cut", "rate hike", "monetary policy", "bond yields",
         "central bank", "basis points", "core inflation", "price stability"),
        ("{org} holds interest rates as inflation cools in {country}",
         "{person} signals rate cut could come as soon as {month}",
         "Bond yields jump after {org} surprises markets with rate hike",
         "{org} raises rates by {n} basis points, citing stubborn core inflation",
         "Markets bet on {org} easing after inflation falls to {pct} percent"),
        ("The {org} left its benchmark rate unchanged at {pct} percent on {weekday}, as expected by most economists polled.",
         "{person}, who chairs the policy committee, told reporters in {place} that inflation was moving in the right direction but the job was not done.",
         "Core inflation, which strips out volatile food and energy prices, rose {pct} percent in the year to {month}.",
         "Traders in {place} pared bets on a rate cut before {month}, pushing two-year bond yields up {n} basis points.",
         "Several members of the committee argued for a pause, according to minutes of the meeting published on {weekday}.",
         "The decision leaves borrowing costs at their highest level in {n} years, weighing on mortgage holders and businesses.",
         "Analysts at {org} said price stability remained the overriding priority and warned against declaring victory too early."),
    ),
    "election": (
        ("election", "polls", "ballot", "coalition", "parliament", "vote", "turnout",
         "campaign", "opposition", "runoff"),
        ("{person} claims victory in {country} election as opposition cries foul",
         "Polls open in {country} in tight race between {person} and {person2}",
         "{country} coalition talks stall as {person} rejects key demand",
         "Turnout hits record high in {country} parliamentary vote",
         "{person} concedes defeat, calls for calm in {place}"),
        ("Voters in {country} went to the polls on {weekday} in an election widely seen as a referendum on {person}'s economic record.",
         "Preliminary results published by the electoral commission in {place} gave the governing party {pct} percent of the vote.",
         "The opposition leader, {person2}, said the count was marred by irregularities and called supporters to rally in {place}.",
         "Turnout was estimated at {pct} percent, the highest since {year}, officials said.",
         "Coalition negotiations are expected to take weeks, with neither bloc holding a majority in parliament.",
         "Observers from the {org} said the ballot was largely orderly, though they noted isolated reports of intimidation.",
         "A runoff between the two leading candidates is scheduled for {month} if no one wins an outright majority."),
    ),
    "quake": (
        ("earthquake", "magnitude", "aftershocks", "rescue teams", "death toll", "tsunami warning",
         "rubble", "epicentre", "evacuation", "humanitarian aid"),
        ("Magnitude {mag} earthquake strikes near {place}, killing at least {n}",
         "Rescue teams search rubble after powerful earthquake hits {country}",
         "Death toll from {country} earthquake rises to {n3} as aftershocks continue",
         "Tsunami warning lifted after strong quake off coast of {country}",
         "{org} pledges emergency aid after deadly earthquake in {country}"),
        ("A magnitude {mag} earthquake struck {n} kilometres from {place} early on {weekday}, the geological survey said.",
         "Rescue teams worked through the night to pull survivors from the rubble of collapsed apartment blocks.",
         "The death toll rose to {n3} by the evening, according to the civil protection agency in {place}.",
         "Dozens of aftershocks, some stronger than magnitude 5, rattled the region and sent residents fleeing into the streets.",
         "Authorities issued a tsunami warning for coastal areas, which was lifted about two hours later.",
         "The {org} said it was sending humanitarian aid and field hospitals to the worst affected areas.",
         "{person} declared three days of national mourning and promised that every family would be helped to rebuild."),
    ),
    "merger": (
        ("merger", "acquisition", "takeover bid", "shareholders", "antitrust", "deal", "billion",
         "regulators", "hostile bid", "due diligence"),
        ("{org} agrees to buy {org2} in ${n} billion deal",
         "{org2} rejects hostile takeover bid from {org}",
         "Regulators open antitrust probe into {org} merger with {org2}",
         "Shareholders back {org} acquisition of {org2} despite opposition",
         "{org} walks away from {org2} deal after due diligence"),
        ("{org} said on {weekday} it had agreed to acquire {org2} for about ${n} billion in cash and shares.",
         "The deal, which values {org2} at a premium of {pct} percent to its closing price, still needs approval from regulators in {country}.",
         "Antitrust authorities in {place} have signalled they will scrutinise the combination closely.",
         "{person}, the chief executive of {org}, told analysts the merger would create a leader in its market and deliver cost savings within {n} years.",
         "Shares of {org2} rose {pct} percent in early trading in {place}, while {org} fell slightly.",
         "Some shareholders have criticised the price, arguing the board undervalued the company.",
         "The companies expect the transaction to close in the second half of {year}, subject to due diligence and regulatory clearance."),
    ),
    "trial": (
        ("trial", "court", "verdict", "prosecutors", "charges", "judge", "testimony",
         "acquitted", "sentenced", "arrest warrant"),
        ("{person} goes on trial in {place} on corruption charges",
         "Court sentences {person} to {n} years in prison",
         "Prosecutors seek arrest warrant for {person} over fraud allegations",
         "{person} acquitted of all charges after lengthy trial",
         "Judge delays verdict in {person} case as new testimony emerges"),
        ("The trial of {person} opened on {weekday} before a packed courtroom in {place}.",
         "Prosecutors allege that the defendant accepted bribes worth millions of dollars from executives at {org}.",
         "Defence lawyers argued the charges were politically motivated and asked the judge to dismiss the case.",
         "A former aide gave testimony that lasted more than {n} hours, describing meetings in {place2}.",
         "The court is expected to deliver its verdict in {month}, legal experts said.",
         "If convicted, the defendant faces up to {n} years in prison.",
         "The International Criminal Court issued an arrest warrant earlier this year, which {country} has said it will not enforce."),
    ),
    "tech": (
        ("artificial intelligence", "chips", "semiconductor", "data centre", "cyberattack",
         "smartphone", "export controls", "cloud", "launch", "regulation"),
        ("{org} unveils new artificial intelligence model, challenging {org2}",
         "{country} tightens export controls on advanced chips",
         "Cyberattack disrupts services at {org}, company says",
         "{org} to build ${n} billion data centre in {country}",
         "EU regulators fine {org} over data protection breaches"),
        ("{org} on {weekday} unveiled its latest artificial intelligence system, which it said outperformed rivals on a range of benchmarks.",
         "The company plans to invest ${n} billion in new data centres in {country} over the next {n2} years.",
         "Demand for advanced chips has surged, straining supply from semiconductor makers in {place}.",
         "{person}, the company's chief technology officer, said the launch marked a turning point for cloud customers.",
         "Officials in {place} said new export controls were needed to protect national security.",
         "A cyberattack on {weekday} knocked out systems at several hospitals and forced {org2} to suspend some services.",
         "Regulators in {place2} have opened an inquiry into whether the product complies with the new regulation on artificial intelligence."),
    ),
    "climate": (
        ("climate", "emissions", "heatwave", "wildfire", "floods", "drought", "renewable energy",
         "carbon", "summit", "net zero"),
        ("Wildfires force thousands to evacuate near {place}",
         "Record heatwave grips {country} as temperatures top {n} degrees",
         "Floods kill {n} in {country} after days of torrential rain",
         "Climate summit in {place} ends with deal on emissions",
         "{country} pledges net zero by {year2}, critics say too late"),
        ("Firefighters battled wildfires on the outskirts of {place} for a third day as strong winds fanned the flames.",
         "Temperatures reached {n} degrees Celsius in parts of {country}, breaking records set in {year}.",
         "Torrential rain caused floods that swept away roads and bridges, leaving thousands without power.",
         "Delegates at the climate summit in {place} agreed to a deal to cut carbon emissions faster, though activists said it fell short.",
         "{person} said the country would triple investment in renewable energy by {year2}.",
         "Scientists at the {org} warned that droughts and heatwaves would become more frequent as the planet warms.",
         "Insurance losses from the floods were estimated at ${n} billion, according to preliminary figures."),
    ),
    "conflict": (
        ("ceasefire", "missile", "drone strike", "troops", "sanctions", "peace talks",
         "air defence", "shelling", "hostages", "border"),
        ("Drone strike hits energy facility near {place}",
         "{country} and {country2} agree to ceasefire after weeks of fighting",
         "New sanctions target {country} over missile programme",
         "Peace talks in {place} collapse as shelling resumes",
         "{n} hostages released as part of truce deal"),
        ("A drone strike overnight damaged an energy facility near {place}, officials said on {weekday}.",
         "Air defence systems intercepted {n} missiles, the defence ministry in {place2} said.",
         "The {org} called for an immediate ceasefire and safe passage for civilians.",
         "{person} said peace talks could resume only if troops withdrew from the border area.",
         "The European Union agreed a new package of sanctions targeting banks and energy exports.",
         "Shelling continued in several towns along the front line, according to local authorities.",
         "Negotiators in {place} said the release of hostages was a first step towards a wider truce."),
    ),
    "health": (
        ("outbreak", "vaccine", "virus", "hospital", "pandemic", "cases", "public health",
         "clinical trial", "drug approval", "mpox"),
        ("{org} approves new vaccine after clinical trial success",
         "Outbreak of virus spreads to {n} regions in {country}",
         "Hospitals in {place} under pressure as cases surge",
         "{org} declares mpox outbreak a public health emergency",
         "Drug approval for {org2} obesity treatment sends shares higher"),
        ("Health officials in {country} reported {n3} new cases of the virus in the past week.",
         "The {org} said the outbreak had spread to {n} regions and urged neighbouring countries to step up surveillance.",
         "Hospitals in {place} have postponed routine surgery to cope with the surge in admissions.",
         "A late-stage clinical trial showed the vaccine was {pct} percent effective at preventing severe illness.",
         "Regulators granted drug approval on {weekday}, clearing the way for a launch in {month}.",
         "{person}, the health minister, said the public health system was prepared for a further rise in cases.",
         "Experts cautioned that the risk of a new pandemic remained low but called for more investment in testing."),
    ),
    "sport": (
        ("world cup", "final", "championship", "coach", "transfer", "olympics", "record",
         "injury", "semi-final", "goal"),
        ("{country} beat {country2} to reach World Cup final",
         "{person} breaks world record at championships in {place}",
         "Coach {person} sacked after string of defeats",
         "{person} ruled out of Olympics with injury",
         "Record transfer as {person} joins club in {place}"),
        ("{country} booked their place in the final with a 2-1 win over {country2} in {place} on {weekday}.",
         "{person} scored the winning goal in the {n}th minute, sending the crowd into raptures.",
         "The coach said the team had shown character after a difficult start to the championship.",
         "{person2} broke the world record by almost a second, the biggest margin in {n} years.",
         "The injury means the star will miss the Olympics, the national federation said.",
         "The record transfer fee was reported to be more than {n} million euros.",
         "The semi-final drew a television audience of {n} million, organisers said."),
    ),
}

FILLER = (
    "The figures were broadly in line with forecasts.",
    "Officials declined to comment further on {weekday}.",
    "More details are expected later in the day.",
    "The announcement came after weeks of speculation in local media.",
    "Critics said the move did little to address underlying problems.",
    "It was not immediately clear how many people were affected.",
    "The government in {place} said it was monitoring the situation closely.",
    "A spokesperson for {org} said the company would cooperate fully.",
    "Markets in {place} closed {pct} percent lower.",
    "The story is developing and will be updated.",
    "{person} is due to travel to {place} next week for talks.",
    "Reporting by {author}; editing by {author2}.",
)

BLOG_LEADS = (
    "Live: {title}",
    "As it happened: {title}",
    "Live updates: {title}",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LANGS = ("en",) * 18 + ("en-GB", "en-US")


@dataclass
class _Story:
    topic: str
    slots: dict[str, str]
    published: datetime
    items: list[dict[str, Any]] = field(default_factory=list)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _slots(rng: random.Random) -> dict[str, str]:
    org, org2 = rng.sample(ORGS, 2)
    country, country2 = rng.sample(COUNTRIES, 2)
    place, place2 = rng.sample(PLACES, 2)
    author, author2 = rng.sample(AUTHORS, 2)
    return {
        "person": _person(rng), "person2": _person(rng), "org": org, "org2": org2,
        "country": country, "country2": country2, "place": place, "place2": place2,
        "author": author, "author2": author2,
        "month": rng.choice(MONTHS), "weekday": rng.choice(WEEKDAYS),
        "n": str(rng.randint(2, 90)), "n2": str(rng.randint(2, 12)), "n3": str(rng.randint(20, 4000)),
        "pct": f"{rng.randint(1, 40)}.{rng.randint(0, 9)}", "mag": f"{rng.randint(5, 8)}.{rng.randint(0, 9)}",
        "year": str(rng.randint(1990, 2023)), "year2": str(rng.randint(2030, 2060)),
    }


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots)


def _body(rng: random.Random, topic: str, slots: dict[str, str]) -> str:
    """80-400 words: topic sentences first (the lead), then filler and re-used sentences."""
    target = rng.randint(80, 400)
    topical: list[str] = []
    words = 0
    out: list[str] = []
    while words < target:
        if rng.random() < 0.7:
            if not topical:
                topical = list(TOPICS[topic][2])
                rng.shuffle(topical)
            template = topical.pop()
        else:
            template = rng.choice(FILLER)
        local = dict(slots)
        if rng.random() < 0.3:  # other actors appear in long stories too
            local.update(person=_person(rng), place=rng.choice(PLACES), org=rng.choice(ORGS))
        sentence = _fill(template, local)
        out.append(sentence)
        words += len(sentence.split())
    paragraphs = [" ".join(out[i : i + 3]) for i in range(0, len(out), 3)]
    return "\n\n".join(paragraphs)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item(rng: random.Random, story: _Story, n: int, kind: str) -> dict[str, Any]:
    slots = story.slots
    source_id, source_name = rng.choice(SOURCES)
    published = story.published + timedelta(minutes=rng.randint(0, 180))
    keywords = TOPICS[story.topic][0]
    title = _fill(rng.choice(TOPICS[story.topic][1]), slots)
    body = _body(rng, story.topic, slots)
    slug = "-".join(title.lower().split()[:6]).replace("$", "").replace(",", "")
    item: dict[str, Any] = {
        "id": f"{source_id}:{n:07d}",
        "source": {"id": source_id, "name": source_name},
        "url": f"https://{source_id}.example/{published:%Y/%m/%d}/{slug}-{n}",
        "title": title,
        "body": body,
        "published_at": _ts(published),
        "fetched_at": _ts(published + timedelta(seconds=rng.randint(5, 600))),
        "authors": [slots["author"]] if rng.random() < 0.7 else [],
        "language": rng.choice(LANGS),
        "tags": [*sorted(set(rng.sample(keywords, rng.randint(0, 3)))), story.topic],
        "revision": 1,
    }
    if kind == "mirror" and story.items:  # wire copy republished with a byline and a tail
        first = story.items[0]
        item["title"] = first["title"]
        item["body"] = f"By {rng.choice(AUTHORS)}\n\n{first['body']}\n\nContinue reading on {source_name}."
    elif kind == "duplicate" and story.items:  # syndicated verbatim under another id
        first = story.items[0]
        item["title"], item["body"] = first["title"], first["body"]
    elif kind == "liveblog" and story.items:
        first = story.items[0]
        page = first["url"].replace("https://", "https://live.")
        item["title"] = _fill(rng.choice(BLOG_LEADS), {"title": first["title"]})
        item["body"] = " ".join(_fill(rng.choice(TOPICS[story.topic][2]), slots) for _ in range(rng.randint(6, 12)))
        block = f"block-{rng.randint(1, 3)}"
        item["id"] = f"{first['source']['id']}:live:{page.rsplit('-', 1)[-1]}:{block}"
        item["source"] = dict(first["source"])
        item["liveblog"] = {"page_url": page, "block_id": block}
        item["revision"] = rng.randint(1, 3)
    return item


def items(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` raw items, story by story: ~70% originals, the rest mirrors, duplicates, live-blog posts."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    stories: list[_Story] = []
    n = 0
    while len(out) < count:
        if not stories or rng.random() < 0.55:
            topic = rng.choice(list(TOPICS))
            stories.append(_Story(topic, _slots(rng), start + timedelta(minutes=len(out) // 3)))
            stories = stories[-200:]
            kind = "original"
        else:
            kind = rng.choices(("original", "mirror", "duplicate", "liveblog"), (40, 25, 15, 20))[0]
        story = stories[-1] if kind == "original" else rng.choice(stories)
        item = _item(rng, story, n, kind)
        story.items.append(item)
        out.append(item)
        n += 1
    return out


# ---------------------------------------------------------------- rules

def _quoted(text: str) -> str:
    return '"' + text.replace('"', "") + '"'


def _term(text: str) -> str:
    """A name as a rule author writes it: one word bare, several words as a phrase."""
    return _quoted(text) if " " in text or "-" in text else text


def _rule_query(rng: random.Random) -> tuple[str, str]:
    """One rule of a kind drawn by desk-realistic weights: ``(kind, query)``."""
    topic = rng.choice(list(TOPICS))
    keywords = TOPICS[topic][0]
    kw, kw2 = rng.sample(keywords, 2)
    person = rng.choice(LAST_NAMES)
    full = _person(rng)
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
        "place_topic": (8, f"{_term(place)} AND {_term(kw)} AND {_term(kw2)} AND {_term(country)} NOT {_term(rng.choice(TOPICS['sport'][0]))}"),
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
    write_jsonl(ns.out / "items.jsonl", items(ns.items))
    write_rules_yaml(ns.out / "rules.yaml", rules(ns.rules))
    print(f"wrote {ns.items} items and {ns.rules} rules under {ns.out}")
