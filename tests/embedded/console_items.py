"""A desk's store written for the console tests: every expectation below follows from it.

* 72 items say "officials" (``off:01`` .. ``off:72``), one every 7 minutes back from
  ``now`` (``off:01`` 7.5 min ago ... ``off:08`` 56.5 min ago, ``off:09`` 63.5 min ago): the
  last hour holds exactly ``off:01``..``off:08``; newest first they are 01, 02, ... 72.
* their source turns over three outlets by number (``n % 3``): 0 ``meridian-wire``,
  1 ``harbour-post``, 2 ``kyiv-daily``;
* every 10th (10, 20 .. 70) names the entity ``Bank of Japan`` (ORG), every 15th (15 .. 60)
  ``Japan`` (GPE): ``entity:"Japan"`` is exactly 15, 30, 45, 60;
* every 9th (9, 18 .. 72) is in Ukrainian (``uk``), the rest English;
* 12, 24, 36, 48, 60, 72 are ``duplicate`` of ``off:01``; 07 is an ``update``;
* ``off:40`` says "officials" three times in its title (the relevance sort's first);
* four more items in other scripts: Russian (``Москва``), Chinese (``莫斯科``), Arabic,
  and Czech-spelt ``Zelenský``; published 3 days ago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

SOURCES = {0: ("meridian-wire", "Meridian Wire"), 1: ("harbour-post", "The Harbour Post"),
           2: ("kyiv-daily", "Kyiv Daily")}
OFFICIALS = 72


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def official(n: int, now: datetime) -> dict[str, Any]:
    source_id, source_name = SOURCES[n % 3]
    entities = [{"name": "Ukraine", "type": "GPE"}]
    if n % 10 == 0:
        entities.append({"name": "Bank of Japan", "type": "ORG"})
    if n % 15 == 0:
        entities.append({"name": "Japan", "type": "GPE"})
    item_id = f"off:{n:02d}"
    status, of = ("duplicate", "off:01") if n % 12 == 0 else ("update", "off:03") if n == 7 else ("new", None)
    title = "Officials, officials and more officials meet" if n == 40 else f"Harbour report number {n}"
    return {
        "id": item_id,
        "source": {"id": source_id, "name": source_name},
        "url": f"https://{source_id}.example/{n}",
        "title": title,
        "body": f"Port officials in Odesa said shipment {n} left on schedule after checks. " * 3,
        "published_at": stamp(now - timedelta(minutes=7 * n, seconds=30)),
        "language": "uk" if n % 9 == 0 else "en",
        "dedupe": {"status": status, "of": of},
        "story_id": of or item_id,
        "entities": entities,
        "alerts": [],
    }


def other_scripts(now: datetime) -> list[dict[str, Any]]:
    days_ago = now - timedelta(days=3)

    def item(item_id: str, language: str, title: str, body: str, source: tuple[str, str]) -> dict[str, Any]:
        return {
            "id": item_id, "source": {"id": source[0], "name": source[1]}, "url": f"https://{source[0]}.example/1",
            "title": title, "body": body, "published_at": stamp(days_ago), "language": language,
            "dedupe": {"status": "new", "of": None}, "story_id": item_id, "entities": [], "alerts": [],
        }

    return [
        item("ru:1", "ru", "Переговоры в Москве продолжатся завтра",
             "Делегации встретились в Москва-Сити; Москва подтвердила дату.", ("vesti", "Вести")),
        item("zh:1", "zh", "代表团抵达莫斯科举行会谈", "双方在莫斯科会谈后发表联合声明。", ("xinhua", "新华社")),
        item("ar:1", "ar", "بوتين يلتقي شي في موسكو", "التقى الرئيس الروسي نظيره الصيني في موسكو.",
             ("aljarida", "الجريدة")),
        item("cz:1", "cs", "Zelenský navštívil Prahu", "Prezident Zelenský jednal o <muniční> iniciativě.",
             ("ct24", "ČT24")),
    ]


def console_items(now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    return [official(n, now) for n in range(1, OFFICIALS + 1)] + other_scripts(now)


def ids(numbers: range | list[int]) -> list[str]:
    return [f"off:{n:02d}" for n in numbers]
