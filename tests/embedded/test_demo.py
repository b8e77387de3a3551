"""`make demo`'s pipeline, stepped through its scripted news day: exact stories, verdicts,
alerts at the webhook receiver, and search results."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from wirewatch.embedded.demo import Demo
from wirewatch.processors.pipeline import ProcessResult
from wirewatch.sinks.sqlite import SqliteStore

from .terminal import Finished, run_in_terminal

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


def run_demo_in_terminal(data_dir: Path, env: dict[str, str]) -> Finished:
    """`make demo`'s program in an 80-column terminal, a fast news day, Ctrl-C once it is over."""
    args = [sys.executable, "-m", "wirewatch.embedded.demo", "--step", "1.5", "--interval", "0.3",
            "--web", "127.0.0.1:0", "--data-dir", str(data_dir)]
    return run_in_terminal(args, env=env, columns=80, until=lambda text: "Ctrl-C to stop." in text)


def test_the_demo_in_a_terminal_reads_well_and_says_when_the_news_day_is_over(
    tmp_path: Path, wirewatch_env: dict[str, str]
) -> None:
    env = {k: v for k, v in wirewatch_env.items() if k != "WIREWATCH_LOG_FORMAT"}
    done = run_demo_in_terminal(tmp_path / "demo", env)
    text = done.text
    assert done.returncode == 0, text
    assert "Traceback" not in text
    # printed commands are one line each (the terminal wraps them, rich does not): they copy whole
    data = tmp_path / "demo"
    for command in (f"WIREWATCH_DATA_DIR={data} .venv/bin/wirewatch rules backtest --query 'Kharkiv AND explosion' --since 7d",
                    f"WIREWATCH_DATA_DIR={data} .venv/bin/wirewatch search '\"grain corridor\" AND Ukraine'"):
        assert f"  {command}\n" in text
    # a folded item names its story by title and outlet
    assert ('[The Harbour Post] Grain corridor deal: Ukraine and Poland sign agreement in Warsaw  '
            '-> folded into "Ukraine and Poland sign grain corridor deal in Warsaw" (Meridian Wire)') in text
    assert "-> story " not in text
    assert re.search(r"ALERT     webhook got grain-corridor -> Ukraine and Poland sign grain corridor deal in "
                     r"Warsaw \(Meridian Wire\)", text)
    quiet = re.findall(r"-- The demo feeds are quiet now \(the news day is over\); the page stays up at "
                       r"http://127\.0\.0\.1:\d+/; Ctrl-C to stop\.", text)
    assert len(quiet) == 1
    assert text.index(quiet[0]) > text.index("-- the news moves on (stage 2 of 2)")
    # the closing line is words, not a Python dict
    closing = text.rstrip().splitlines()[-1]
    assert re.fullmatch(
        r"Stopped after \d+s\. 12 items: 8 new stories, 3 folded into their stories, 1 update; 6 alerts, "
        rf"6 webhook deliveries\. Data kept in {re.escape(str(data))}", closing), closing
    assert "{" not in closing


def test_the_demo_starts_again_in_its_own_folder(tmp_path: Path, wirewatch_env: dict[str, str]) -> None:
    """A second `make demo` empties the folder the first one left (delivered.db included)."""
    env = {k: v for k, v in wirewatch_env.items() if k != "WIREWATCH_LOG_FORMAT"}
    first = run_demo_in_terminal(tmp_path / "demo", env)
    assert first.returncode == 0 and (tmp_path / "demo" / "delivered.db").exists()
    second = run_demo_in_terminal(tmp_path / "demo", env)
    assert "not a demo data folder" not in second.text
    assert second.returncode == 0, second.text
    assert "6 webhook deliveries" in second.text.rstrip().splitlines()[-1]
