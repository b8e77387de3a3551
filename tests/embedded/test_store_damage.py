"""A data file that exists but is empty or damaged is never taken for a first run.

`wirewatch run` refuses to start on it (one line with the path and what to do, exit 2) unless
told `--fresh-store`, which moves it aside and sends no delivered alert again; `wirewatch
search` ends in one line and exit 2; the page answers 503 and `/healthz` reports the damage.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from wirewatch.core.sqlite import Database, StoreDamaged, check_file, move_aside
from wirewatch.embedded.delivered import DeliveredFile
from wirewatch.embedded.demo_site import WebhookReceiver
from wirewatch.embedded.web import create_app, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .feeds import FIXTURES, GrowingFeed, start_sites
from .test_run_restart import wait_for, write_config

TOTAL = 40
URGENT = [f"urgent:feed:s-{i}" for i in range(0, TOTAL, 10)]
PROCESSED = [json.loads(line) for line in
             (Path(__file__).resolve().parents[1] / "fixtures" / "sinks" / "processed_items.jsonl").read_text().splitlines()]


def stored(data: Path) -> int:
    """Items in the data folder's store now (a new connection: the file may have been replaced)."""
    path = data / "wirewatch.db"
    if not path.exists() or path.stat().st_size == 0:
        return 0
    conn = sqlite3.connect(path, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:  # no table yet
        return 0
    finally:
        conn.close()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def store_with_items(folder: Path, count: int = 300) -> Path:
    """A closed SQLite store holding ``count`` items (a few hundred pages)."""
    store = SqliteStore(folder)
    docs = []
    for n in range(count):
        doc = copy.deepcopy(PROCESSED[0])
        doc.update(id=f"damage:{n}", story_id=f"damage:{n}", title=f"Harbour cranes {n}", body="cranes " * 200)
        docs.append(doc)
    assert {o.status for o in store.index_items_sync(docs)} == {"indexed"}
    store.db.close()
    return folder / "wirewatch.db"


def damage_pages(path: Path, at: float = 0.5, pages: int = 3) -> None:
    """Overwrite a few pages in the middle of the file, as a bad disk or a torn copy would."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(int(size // 4096 * at) * 4096)
        handle.write(b"\xa5" * 4096 * pages)


def test_check_file_tells_missing_empty_damaged_and_ok(tmp_path: Path) -> None:
    path = store_with_items(tmp_path / "ok")
    assert check_file(path) == "ok"
    assert check_file(tmp_path / "none" / "wirewatch.db") == "missing"
    empty = tmp_path / "empty.db"
    empty.touch()
    assert check_file(empty) == "empty (0 bytes)"
    text = tmp_path / "text.db"
    text.write_text("not a database at all\n" * 300)
    assert check_file(text) == "damaged: file is not a database"
    damaged = tmp_path / "damaged" / "wirewatch.db"
    damaged.parent.mkdir()
    shutil.copy(path, damaged)
    damage_pages(damaged)
    assert check_file(damaged).startswith("damaged: *** in database main ***")
    assert check_file(damaged, "quick") == "ok"  # header and schema only: the search path's check
    with pytest.raises(StoreDamaged, match=r"empty\.db: empty \(0 bytes\); .*--fresh-store"):
        Database(empty, check="quick")
    assert empty.stat().st_size == 0  # refused, not turned into a new database


def test_move_aside_keeps_the_file_and_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "wirewatch.db"
    path.write_bytes(b"")
    (tmp_path / "wirewatch.db-wal").write_bytes(b"stale frames")
    moved = move_aside(path)
    assert moved.name.startswith("wirewatch.db.damaged-") and moved.exists()
    assert (tmp_path / f"{moved.name}-wal").read_bytes() == b"stale frames"
    assert not path.exists() and not (tmp_path / "wirewatch.db-wal").exists()


async def test_empty_store_refuses_to_start_and_a_fresh_store_sends_no_alert_twice(
    tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str
) -> None:
    feed, receiver = GrowingFeed(visible=TOTAL, total=TOTAL), WebhookReceiver()
    http, base = await start_sites(feed, receiver)
    args = write_config(tmp_path, base)
    data = Path(wirewatch_env["WIREWATCH_DATA_DIR"])
    path = data / "wirewatch.db"

    async def run_until(done: Callable[[], bool], *extra: str) -> str:
        proc = await asyncio.create_subprocess_exec(wirewatch_bin, *args, *extra, env=wirewatch_env,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            await wait_for(done, 60, "the run to catch up")
            await asyncio.sleep(1.0)  # a few more polls: nothing new may be sent
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 40)
        assert proc.returncode == 0, stderr.decode()
        return stderr.decode()

    try:
        await run_until(lambda: stored(data) == TOTAL and len(receiver.deliveries) == len(URGENT))
        assert sorted(d["headers"]["Idempotency-Key"] for d in receiver.deliveries) == sorted(URGENT)

        path.write_bytes(b"")  # the file is there, its content is gone
        refused = subprocess.run([wirewatch_bin, *args], env=wirewatch_env, capture_output=True, text=True,
                                 timeout=60)
        assert refused.returncode == 2
        assert one_line(refused.stderr) == (
            f"wirewatch run: error: {path}: empty (0 bytes); restore it from a backup, or start afresh with "
            "`wirewatch run --fresh-store` (moves it aside to wirewatch.db.damaged-<time>, keeps delivered alerts)"
        )
        assert path.stat().st_size == 0 and len(receiver.deliveries) == len(URGENT)
        search = subprocess.run([wirewatch_bin, "search", "story"], env=wirewatch_env, capture_output=True,
                                text=True, timeout=60)
        assert search.returncode == 2
        assert one_line(search.stderr).startswith(f"wirewatch search: error: {path}: empty (0 bytes); ")
        assert path.stat().st_size == 0  # still the user's file, not a new database

        stderr = await run_until(lambda: stored(data) == TOTAL, "--fresh-store")
        moved = [line for line in stderr.splitlines() if "moved aside" in line]
        assert len(moved) == 1 and str(path) in moved[0]
        aside = sorted(data.glob("wirewatch.db.damaged-*"))
        assert len(aside) == 1 and aside[0].stat().st_size == 0
    finally:
        await http.cleanup()
    # history polled and stored again; each alert was raised again and none was sent twice
    assert stored(data) == TOTAL
    assert len(receiver.deliveries) == len(URGENT)


async def test_damaged_pages_stop_run_and_search_with_one_line(
    tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str
) -> None:
    data = Path(wirewatch_env["WIREWATCH_DATA_DIR"])
    path = store_with_items(data)
    damage_pages(path)
    feed, receiver = GrowingFeed(visible=0, total=0), WebhookReceiver()
    http, base = await start_sites(feed, receiver)
    try:
        args = write_config(tmp_path, base)
        search = subprocess.run([wirewatch_bin, "search", "cranes", "--limit", "500"], env=wirewatch_env,
                                capture_output=True, text=True, timeout=60)
        assert search.returncode == 2
        line = one_line(search.stderr)
        assert line.startswith(f"wirewatch search: error: {path}: damaged: database disk image is malformed;")
        assert "--fresh-store" in line

        refused = subprocess.run([wirewatch_bin, *args], env=wirewatch_env, capture_output=True, text=True,
                                 timeout=60)
        assert refused.returncode == 2
        assert one_line(refused.stderr).startswith(
            f"wirewatch run: error: {path}: damaged: *** in database main *** Page ")

        fresh = await asyncio.create_subprocess_exec(wirewatch_bin, *args, "--fresh-store", env=wirewatch_env,
                                                     stderr=asyncio.subprocess.PIPE)
        await wait_for(lambda: path.exists() and check_file(path) == "ok" and stored(data) == 0, 30,
                       "a new store")
        fresh.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(fresh.communicate(), 40)
        assert fresh.returncode == 0, stderr.decode()
    finally:
        await http.cleanup()
    aside = sorted(data.glob("wirewatch.db.damaged-*"))
    assert [p.name for p in aside] == [aside[0].name] and aside[0].name.startswith("wirewatch.db.damaged-")
    assert check_file(aside[0]).startswith("damaged:")  # kept as it was, for repair or inspection


async def test_the_page_answers_503_and_healthz_reports_damage_met_while_running(tmp_path: Path) -> None:
    path = store_with_items(tmp_path)
    # damage after the start's check passed: the page meets it on its next read
    store = SqliteStore(db=Database(path))
    store.setup_sync()
    damage_pages(path)
    store.db.conn.execute("PRAGMA cache_size = 0")  # no page served from memory
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            health = await client.get("/healthz")
            assert (health.status_code, health.json()) == (200, {"ok": True, "store": "ok"})
            for address in ("/?q=cranes", "/api/search?q=cranes&limit=200", "/"):
                response = await client.get(address)
                assert response.status_code == 503, address
                assert response.text.startswith(f"wirewatch: {path}: damaged: database disk image is malformed;")
                assert response.text.count("\n") == 1
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json() == {"ok": False, "store": "damaged: database disk image is malformed"}
    finally:
        await runner.cleanup()
        store.db.close()


def test_delivered_file_keeps_keys_and_takes_those_of_an_older_data_folder(tmp_path: Path) -> None:
    delivered = DeliveredFile(tmp_path / "delivered.db")
    delivered.add("hook|a", "delivered", "2026-01-01T00:00:00Z")
    delivered.add_known(["hook|a", "hook|b"])
    delivered.close()
    reopened = DeliveredFile(tmp_path / "delivered.db")
    assert sorted(reopened.keys()) == ["hook|a", "hook|b"]
    reopened.close()


async def test_damage_met_by_a_stage_ends_run_with_the_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage that appears after the start's check: the stage meeting it ends `run` with StoreDamaged."""
    from wirewatch.core.config import load_settings
    from wirewatch.embedded import runner as runner_module
    from wirewatch.embedded.runner import Runner, RunOptions, load_config

    data = tmp_path / "data"
    path = store_with_items(data)
    with path.open("r+b") as handle:  # the root pages of the store's tables, right after the schema page
        handle.seek(4096)
        handle.write(b"\xa5" * 4096 * 8)
    monkeypatch.setattr(runner_module, "check_file", lambda *_args: "ok")  # the check ran before the damage
    feed, receiver = GrowingFeed(visible=TOTAL, total=TOTAL), WebhookReceiver()
    http, base = await start_sites(feed, receiver)
    write_config(tmp_path, base)
    options = RunOptions(sources=tmp_path / "sources.yaml", rules=FIXTURES / "restart_rules.yaml",
                         destinations=tmp_path / "destinations.yaml", web=None, ner="off")
    runner = Runner(options, load_settings(data_dir=data), load_config(options))
    try:
        with pytest.raises(StoreDamaged) as raised:
            await asyncio.wait_for(runner.run(asyncio.Event()), 60)
    finally:
        await http.cleanup()
    assert str(raised.value).startswith(f"{path}: damaged: database disk image is malformed; ")
    assert runner.db is not None and runner.db.state == "damaged: database disk image is malformed"
