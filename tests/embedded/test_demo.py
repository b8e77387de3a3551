"""`make demo`'s pipeline, stepped through its scripted news day: exact stories, verdicts,
alerts at the webhook receiver, and search results."""

from __future__ import annotations

from pathlib import Path

from wirewatch.embedded.demo import Demo
from wirewatch.processors.pipeline import ProcessResult
from wirewatch.sinks.sqlite import SqliteStore

EXPECTED_VERDICTS = {
    # stage 0: the wire and the live blog break stories
    ("meridian-wire:mw-1001", 1): ("new", None),
    ("meridian-wire:mw-1002", 1): ("new", None),
    ("meridian-live:post-101", 1): ("new", None),
    ("meridian-live:post-102", 1): ("new", None),
    # stage 1: rewrites fold into their stories; unrelated news stays new
    ("harbour-post:hp-2001", 1): ("near_duplicate", "meridian-wire:mw-1001"),
    ("northgate-daily:urn:northgate:3001", 1): ("near_duplicate", "meridian-wire:mw-1002"),
    ("northgate-daily:urn:northgate:3002", 1): ("new", None),
    ("meridian-live:post-103", 1): ("new", None),
    ("kyiv-visnyk:kv-5001", 1): ("new", None),  # the same deal in Ukrainian: its own story (events are #19)
    # stage 2: a tracking-tagged copy, a different story on the same event, a correction
    ("morning-digest:digest-4001", 1): ("duplicate", "meridian-wire:mw-1001"),
    ("meridian-wire:mw-1003", 1): ("new", None),
    ("meridian-live:post-103", 2): ("update", "meridian-live:post-103"),
}

EXPECTED_ALERTS = [
    "boj-watch:northgate-daily:urn:northgate:3002",
    "grain-corridor-uk:kyiv-visnyk:kv-5001",
    "grain-corridor:meridian-wire:mw-1001",
    "kharkiv-blast:meridian-live:post-103",
    "kharkiv-blast:meridian-live:post-103:r2",
    "port-strike:meridian-wire:mw-1002",
]


async def run_demo_day(tmp_path: Path) -> tuple[Demo, list[ProcessResult]]:
    results: list[ProcessResult] = []
    demo = Demo(tmp_path / "data", web=None, interval=0.2, on_result=results.append)
    await demo.start()
    try:
        await demo.settle()
        while demo.advance():
            await demo.settle()
    except BaseException:
        await demo.stop()
        raise
    return demo, results


async def test_demo_day_gives_the_expected_verdicts_alerts_and_search_results(tmp_path: Path) -> None:
    demo, results = await run_demo_day(tmp_path)
    try:
        verdicts = {
            (r.item["id"], r.item.get("revision", 1)): (r.item["dedupe"]["status"], r.item["dedupe"]["of"])
            for r in results
        }
        assert len(results) == len(EXPECTED_VERDICTS)
        assert verdicts == EXPECTED_VERDICTS

        entities = {r.item["id"]: sorted(e["name"] for e in r.item["entities"]) for r in results}
        assert entities["meridian-wire:mw-1001"] == ["Poland", "Ukraine", "Warsaw"]
        assert entities["northgate-daily:urn:northgate:3002"] == ["Bank of Japan", "Kazuo Ueda", "Tokyo"]
        assert entities["meridian-live:post-103"] == ["Kharkiv"]
        # Україна and Польща are catalogue names; "у Варшаві" (locative) is not: no Ukrainian model or stemming
        assert entities["kyiv-visnyk:kv-5001"] == ["Poland", "Ukraine"]
        assert next(r.item for r in results if r.item["id"] == "kyiv-visnyk:kv-5001")["language"] == "uk"

        # Each alert reached the webhook exactly once, signed with its idempotency key.
        bodies = demo.receiver.alerts()
        assert sorted(b["id"] for b in bodies) == EXPECTED_ALERTS
        keys = [d["headers"]["Idempotency-Key"] for d in demo.receiver.deliveries]
        assert sorted(keys) == EXPECTED_ALERTS
        correction = next(b for b in bodies if b["id"].endswith(":r2"))
        assert correction["title"] == "Correction: explosion near Kharkiv hit a substation"
        assert correction["dedupe_status"] == "update"

        assert demo.runner is not None
        store = demo.runner.store
        assert isinstance(store, SqliteStore)
        assert await store.count() == 11  # the correction replaced its first revision
        assert store.story_count() == 8

        async def ids(query: str, **kwargs: object) -> list[str]:
            return [h.id for h in await store.search(query, **kwargs)]  # type: ignore[arg-type]

        assert await ids('"grain corridor" AND Ukraine') == [
            "morning-digest:digest-4001", "harbour-post:hp-2001", "meridian-wire:mw-1001",
        ]
        assert await ids('"grain corridor" AND Ukraine', stories_only=True) == ["meridian-wire:mw-1001"]
        assert await ids('"зерновий коридор"') == ["kyiv-visnyk:kv-5001"]
        assert await ids("Варшаві AND entity:Poland") == ["kyiv-visnyk:kv-5001"]
        assert await ids('entity:"Bank of Japan"') == ["northgate-daily:urn:northgate:3002"]
        assert await ids("entity:Japan") == []  # a whole entity name: "Bank of Japan" is not Japan (issue 17)
        assert await ids("Kharkiv AND (explosion OR blast)") == ["meridian-live:post-103"]
        assert await ids("substation") == ["meridian-live:post-103"]  # the corrected text is indexed
        assert await ids('title:strike AND -source:"Northgate Daily"') == ["meridian-wire:mw-1002"]
        assert await ids("yen AND NOT strike") == [
            "meridian-wire:mw-1003", "northgate-daily:urn:northgate:3002",
        ]

        stories = {s["story_id"]: [d["id"] for d in s["items"]] for s in store.stories()}
        assert stories["meridian-wire:mw-1001"] == [
            "meridian-wire:mw-1001", "harbour-post:hp-2001", "morning-digest:digest-4001",
        ]
    finally:
        await demo.stop()
