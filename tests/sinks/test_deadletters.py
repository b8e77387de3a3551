"""`wirewatch deadletters list | replay` on one machine, through real `wirewatch run` processes:
an alert dead-lettered for a destination that is down is listed, refused for replay while `run`
holds the data folder, replayed once the destination is back (it gets the alert exactly once,
the destination that already had it gets nothing), and a second replay does nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from wirewatch.embedded.demo_site import DemoSite, serve
from wirewatch.sinks.sqlite import SqliteStore

ALERT = "grain-corridor:meridian-wire:mw-1001"


class Hooks:
    """Two webhook receivers on one loopback server; ``archive`` answers 503 while down."""

    def __init__(self) -> None:
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.attempts: Counter[str] = Counter()
        self.archive_down = True

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/desk", self._handle)
        app.router.add_post("/archive", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.path.strip("/")
        body = await request.json()
        self.attempts[name] += 1
        if name == "archive" and self.archive_down:
            return web.Response(status=503)
        self.accepted[(name, body["id"])] += 1
        return web.Response(status=204)


def write_config(folder: Path, site: DemoSite, base: str) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = [dict(s, interval="0.3s") for s in site.sources()]
    (folder / "sources.yaml").write_text(yaml.safe_dump(
        {"sources": sources, "fetch": {"min_host_delay": "0s", "per_host_concurrency": 8}}))
    (folder / "rules.yaml").write_text(yaml.safe_dump({"rules": [
        {"id": "grain-corridor", "query": '"grain corridor" AND (Ukraine OR Poland)', "notify": ["desk", "archive"]},
    ]}))
    hook = {"format": "json", "timeout": "2s", "retries": 1, "backoff": "0.05s"}
    (folder / "destinations.yaml").write_text(yaml.safe_dump({"destinations": {
        "desk": {"url": f"{base}/desk", **hook}, "archive": {"url": f"{base}/archive", **hook},
    }}))
    return ["--config", str(folder / "sources.yaml"), "--rules", str(folder / "rules.yaml"),
            "--destinations", str(folder / "destinations.yaml"), "--ner", "off", "--web", "off"]


class Cli:
    def __init__(self, bin_: str, env: dict[str, str], data: Path) -> None:
        self.bin, self.env, self.data = bin_, env, data

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.bin, "deadletters", *args, "--data-dir", str(self.data)], env=self.env,
                              capture_output=True, text=True, timeout=60)

    def start_run(self, config: list[str], log: Path) -> subprocess.Popen[str]:
        with log.open("a") as out:
            return subprocess.Popen([self.bin, "run", *config, "--data-dir", str(self.data)], env=self.env,
                                    stdout=subprocess.DEVNULL, stderr=out, text=True)


async def until(check: Callable[[], Any], what: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"wirewatch run ended early ({process.returncode})"
        if check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


async def test_a_dead_lettered_alert_is_listed_replayed_once_and_only_for_its_destination(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    site, hooks = DemoSite(), Hooks()
    app = web.Application()
    site.routes(app)
    hooks.routes(app)
    http, base = await serve(app)
    site.base_url = base
    config = write_config(tmp_path / "config", site, base)
    data, log = tmp_path / "data", tmp_path / "run.log"
    cli = Cli(wirewatch_bin, wirewatch_env, data)
    try:
        run = cli.start_run(config, log)
        try:
            def dead_lettered() -> bool:
                listed = cli("list", "--json")
                return hooks.accepted[("desk", ALERT)] == 1 and '"stage": "notifier"' in listed.stdout

            await until(dead_lettered, "the desk delivered and the archive dead-lettered", run)
            # listing reads beside the running process; replaying would write its bus: refused
            refused = cli("replay", "--all")
            assert (refused.returncode, refused.stdout) == (2, "")
            assert refused.stderr.strip() == (
                f"wirewatch deadletters: error: {data}: `wirewatch run` is using this data folder; stop wirewatch "
                "run first (its bus lives in that process), then replay and start it again")
        finally:
            stop(run)
        assert hooks.attempts["archive"] == 2  # the first try and one retry

        listed = cli("list", "--json")
        assert listed.returncode == 0, listed.stderr
        letters = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(x["stage"], x["destination"], x["reason"], x["attempts"], x["replayed_at"]) for x in letters] == [
            ("notifier", "archive", "delivery to archive failed after 2 attempt(s): HTTP 503", 2, None),
        ]
        letter = letters[0]
        assert json.loads(letter["payload"])["id"] == ALERT
        plain = cli("list")
        assert plain.stdout.splitlines() == [
            f"{letter['id']}  {letter['at']}  notifier   archive  delivery to archive failed after 2 attempt(s): HTTP 503"
        ]
        assert cli("list", "--stage", "processor").stdout == ""
        assert cli("list", "--stage", "processor").stderr.strip() == "no dead letters (stage processor)"

        hooks.archive_down = False
        replay = cli("replay", letter["id"])
        assert (replay.returncode, replay.stdout.strip()) == (
            0, f"replayed {letter['id']} (notifier for archive) -> wirewatch.alerts")

        run = cli.start_run(config, log)
        try:
            await until(lambda: hooks.accepted[("archive", ALERT)] == 1, "the archive got the replayed alert", run)
            await asyncio.sleep(1.5)  # anything more would arrive by now
        finally:
            stop(run)
        assert hooks.accepted == Counter({("desk", ALERT): 1, ("archive", ALERT): 1})

        again = cli("replay", letter["id"])
        assert (again.returncode, again.stdout.strip()) == (
            0, f"{letter['id']} was already replayed at {json.loads(cli('list', '--json').stdout)['replayed_at']}: "
               "nothing done")
        assert cli("replay", "--all").stdout.strip() == again.stdout.strip()
        run = cli.start_run(config, log)
        try:
            await asyncio.sleep(3.0)
        finally:
            stop(run)
        assert hooks.accepted == Counter({("desk", ALERT): 1, ("archive", ALERT): 1})

        store = SqliteStore(data)
        try:
            (alert,) = store.alert_history()
            assert [(d["destination"], d["outcome"]) for d in alert["deliveries"]] == [
                ("desk", "delivered"), ("archive", "dead-lettered"), ("archive", "delivered"),
            ]
            assert store.delivery_counts() == {"delivered": 2, "dead-lettered": 1}
        finally:
            await store.close()
    finally:
        await http.cleanup()


@pytest.mark.parametrize("command", ["list", "replay"])
def test_a_missing_data_folder_is_one_line_and_never_created(
    command: str, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    missing = tmp_path / "nope" / "deeper"
    result = subprocess.run([wirewatch_bin, "deadletters", command, "--all" if command == "replay" else "--json",
                             "--data-dir", str(missing)], env=wirewatch_env, capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"wirewatch deadletters: error: {missing}: no such data folder (give the one `wirewatch run` used: "
        "--data-dir DIR or WIREWATCH_DATA_DIR)"
    ]
    assert not (tmp_path / "nope").exists()


def test_unknown_ids_and_a_replay_without_a_selection_are_exit_2(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    from wirewatch.core.sqlite import Database
    from wirewatch.sinks.sqlite import SqliteStore as Store

    data = tmp_path / "data"
    Store(db=Database.in_dir(data)).setup_sync()  # a data folder with a store and no dead letters
    cli = Cli(wirewatch_bin, wirewatch_env, data)
    unknown = cli("replay", "0-99")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "wirewatch deadletters: error: no dead letter 0-99 (see `wirewatch deadletters list`)")
    bare = cli("replay")
    assert (bare.returncode, bare.stderr.strip()) == (
        2, "wirewatch deadletters: error: name the letters to replay: ID ..., --all or --stage STAGE")
    empty = cli("list")
    assert (empty.returncode, empty.stdout, empty.stderr.strip()) == (0, "", "no dead letters")


def test_select_by_id_stage_and_age_and_the_replayed_payload() -> None:
    from datetime import UTC, datetime, timedelta

    from wirewatch.core.times import rfc3339
    from wirewatch.sinks.deadletters import Letter, parse_letter, select

    now = datetime.now(UTC)
    alert = {"id": "quake:wire:1", "rule": "quake", "notify": ["desk", "archive", "chat"]}
    fresh = Letter("0-1", {"stage": "notifier", "reason": "HTTP 503", "payload": json.dumps(alert),
                           "topic": "wirewatch.alerts", "key": "quake", "destination": "archive",
                           "at": rfc3339(now - timedelta(minutes=5), millis=True)})
    old = Letter("0-0", {"stage": "processor", "reason": "not JSON", "payload": "{oops", "topic": "wirewatch.raw",
                         "key": "wire", "at": rfc3339(now - timedelta(days=2))})
    letters = [old, fresh]
    assert select(letters, since=timedelta(hours=1)) == [fresh]
    assert select(letters, stage="processor") == [old]
    assert select(letters, ["0-1", "0-0", "0-1"]) == [fresh, old]
    # the alert goes back for the destination that missed it only; other payloads as they were
    topic, key, payload = fresh.target()
    assert (topic, key, json.loads(payload)) == ("wirewatch.alerts", "quake", {**alert, "notify": ["archive"]})
    assert old.target() == ("wirewatch.raw", "wire", b"{oops")
    # bytes on the dead-letter topic that are no record still list, as an unreadable letter
    odd = parse_letter(0, 9, b"\xff not json")
    assert (odd.id, odd.stage, odd.record["reason"]) == ("0-9", "?", "not a dead-letter record")


def test_a_folder_with_another_prefix_lists_its_own_dead_letters(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    """`make demo` runs with the topic prefix ``demo``: its folder's letters list without
    WIREWATCH_TOPIC_PREFIX; with the variable set, that prefix's topic is read."""
    from wirewatch.bus.memory import MemoryBus
    from wirewatch.core.deadletter import dead_letter
    from wirewatch.core.sqlite import Database

    data = tmp_path / "demo"
    db = Database.in_dir(data)
    bus = MemoryBus(conn=db.conn)
    bus.append("demo.dead-letter", dead_letter("poller", "not a valid raw_item: 'url' is a required property",
                                               {"id": "x:1"}, topic="demo.raw", key="x"), "x")
    db.close()
    cli = Cli(wirewatch_bin, wirewatch_env, data)
    (line,) = cli("list").stdout.splitlines()
    assert line.startswith("0-0  ")
    assert line.endswith("  poller     -  not a valid raw_item: 'url' is a required property")
    assert cli("replay", "0-0").stdout.strip() == "replayed 0-0 (poller) -> demo.raw"
    named = Cli(wirewatch_bin, {**wirewatch_env, "WIREWATCH_TOPIC_PREFIX": "wirewatch"}, data)
    assert named("list").stdout == ""
