"""``wirewatch deadletters list | replay``: what a stage could not handle, listed and put back.

Every stage writes what it could not handle to the dead-letter topic (``schemas/dead_letter.json``:
stage, reason, the payload whole, the topic and key it came from). On one machine that topic
lives in ``<data_dir>/wirewatch.db`` (the embedded bus); with ``WIREWATCH_KAFKA_BOOTSTRAP`` set
it is the Kafka topic ``<prefix>.dead-letter``.

* A letter's id is ``<partition>-<offset>`` in the dead-letter topic: stable, as that topic is
  never trimmed on the embedded bus and only aged out by retention on Kafka.
* ``replay`` puts the payload back on the topic it was read from, with its key: a raw item on
  the raw topic, a processed item on the processed topic, an alert on the alerts topic. A
  notifier letter names one destination; its alert goes back with ``notify`` narrowed to that
  destination, so only that destination is tried again (the notifier's delivered set holds only
  the outcomes of ``notifier.DONE_OUTCOMES``, delivered, throttled, digested and muted: a
  dead-lettered one is not done). A failed digest's letter names no topic: replay refuses it.
* Each replay is recorded (embedded: table ``deadletter_replays`` in the same transaction as the
  bus write; Kafka: the compacted topic ``<prefix>.dead-letter-replayed``, after the payload is
  acknowledged), and a letter replayed once is not replayed again.
* The embedded bus is read into memory by ``wirewatch run`` at start and written only by it:
  another process appending to it would collide with its offsets. So an embedded replay takes
  the data folder's run lock, and refuses while ``wirewatch run`` holds it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wirewatch.core.config import Settings, load_settings, parse_duration
from wirewatch.core.errors import ConfigError, WirewatchError
from wirewatch.core.sqlite import DB_FILE
from wirewatch.core.text import shorten
from wirewatch.core.times import parse_rfc3339, utc_now

STAGES = ("poller", "processor", "indexer", "notifier")
#: characters of a reason in ``list``'s plain lines (``--json`` has it whole)
REASON_SHOWN = 100

_REPLAYS_TABLE = """
CREATE TABLE IF NOT EXISTS deadletter_replays (
    topic TEXT NOT NULL, letter_id TEXT NOT NULL, at TEXT NOT NULL, target TEXT NOT NULL,
    PRIMARY KEY (topic, letter_id)
) WITHOUT ROWID
"""


def replayed_topic(settings: Settings) -> str:
    """Kafka: the compacted topic recording replayed letters (key: letter id)."""
    return f"{settings.topic_prefix}.dead-letter-replayed"


@dataclass(frozen=True)
class Letter:
    """One dead letter as read back: its id, the record, and when it was replayed (if it was)."""

    id: str
    record: dict[str, Any]
    replayed_at: str | None = None

    @property
    def stage(self) -> str:
        return str(self.record.get("stage", "?"))

    @property
    def at(self) -> str:
        return str(self.record.get("at", ""))

    @property
    def destination(self) -> str | None:
        value = self.record.get("destination")
        return str(value) if value else None

    def summary(self) -> dict[str, Any]:
        """``list --json``: the record whole, with its id and replay time."""
        return {"id": self.id, **self.record, "replayed_at": self.replayed_at}

    def line(self) -> str:
        """``list``: when, stage, destination, the reason shortened, replayed or not."""
        reason = shorten(str(self.record.get("reason", "")), REASON_SHOWN)
        text = f"{self.id}  {self.at}  {self.stage:<9}  {self.destination or '-'}  {reason}"
        return text + (f"  [replayed {self.replayed_at}]" if self.replayed_at else "")

    def target(self) -> tuple[str, str | None, bytes]:
        """(topic, key, bytes) to publish; a notifier letter's alert only for its destination."""
        topic = self.record.get("topic")
        if not isinstance(topic, str) or not topic:
            raise WirewatchError(f"dead letter {self.id} names no topic it came from: it cannot be replayed")
        key = self.record.get("key")
        payload = str(self.record.get("payload", ""))
        if self.stage == "notifier" and self.destination:
            try:
                alert = json.loads(payload)
            except ValueError:
                alert = None
            if isinstance(alert, dict):
                alert["notify"] = [self.destination]
                payload = json.dumps(alert, ensure_ascii=False, separators=(",", ":"))
        return topic, key if isinstance(key, str) else None, payload.encode("utf-8", "surrogatepass")


def parse_letter(partition: int, offset: int, raw: bytes | None) -> Letter:
    """A letter from its bytes; one that is no JSON object still lists (its bytes as the payload)."""
    try:
        record = json.loads(raw or b"")
    except ValueError:
        record = None
    if not isinstance(record, dict):
        text = (raw or b"").decode("utf-8", "replace")
        record = {"stage": "?", "reason": "not a dead-letter record", "payload": text, "at": ""}
    return Letter(f"{partition}-{offset}", record)


def select(letters: Sequence[Letter], ids: Sequence[str] = (), *, stage: str | None = None,
           since: timedelta | None = None) -> list[Letter]:
    """The letters named by ``ids`` (each must exist), else all; then narrowed by stage and age."""
    chosen = list(letters)
    if ids:
        by_id = {letter.id: letter for letter in letters}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise WirewatchError(f"no dead letter {', '.join(missing)} (see `wirewatch deadletters list`)")
        chosen = [by_id[i] for i in dict.fromkeys(ids)]
    if stage is not None:
        chosen = [letter for letter in chosen if letter.stage == stage]
    if since is not None:
        cutoff = datetime.now(UTC) - since
        chosen = [letter for letter in chosen if _after(letter.at, cutoff)]
    return chosen


def _after(stamp: str, cutoff: datetime) -> bool:
    try:
        return parse_rfc3339(stamp) >= cutoff
    except ValueError:
        return False


# -- one machine: the embedded bus in wirewatch.db ---------------------------------------------

class EmbeddedLetters:
    """The dead-letter topic of the embedded bus in ``<data_dir>/wirewatch.db``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.topic = settings.dead_letter_topic
        if not self.data_dir.is_dir():
            raise ConfigError(str(self.data_dir), "no such data folder (give the one `wirewatch run` used: "
                                                  "--data-dir DIR or WIREWATCH_DATA_DIR)")
        self.path = self.data_dir / DB_FILE
        if not self.path.is_file():
            raise ConfigError(str(self.data_dir), f"no {DB_FILE} here: `wirewatch run` never stored anything "
                                                  "in this folder")

    def _reader(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)

    def letters(self) -> list[Letter]:
        """Every dead letter, oldest first, with its replay time."""
        conn = self._reader()
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "bus_messages" not in tables:
                return []
            self.topic = self._topic([row[0] for row in conn.execute("SELECT topic FROM bus_topics")])
            replays: dict[str, str] = {}
            if "deadletter_replays" in tables:
                replays = dict(conn.execute(
                    "SELECT letter_id, at FROM deadletter_replays WHERE topic = ?", (self.topic,)).fetchall())
            rows = conn.execute(
                'SELECT partition, "offset", raw FROM bus_messages WHERE topic = ? ORDER BY "offset", partition',
                (self.topic,),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise WirewatchError(f"{self.path}: cannot read the dead letters: {exc}") from None
        finally:
            conn.close()
        letters = [parse_letter(p, o, raw) for p, o, raw in rows]
        return [Letter(x.id, x.record, replays.get(x.id)) for x in letters]

    def _topic(self, topics: Sequence[str]) -> str:
        """The settings' dead-letter topic; else the folder's only one (``make demo`` runs with
        the prefix ``demo``) unless WIREWATCH_TOPIC_PREFIX names one."""
        if self.topic in topics or "topic_prefix" in self.settings.model_fields_set:
            return self.topic
        found = [t for t in topics if t.endswith(".dead-letter")]
        return found[0] if len(found) == 1 else self.topic

    def replay(self, letters: Sequence[Letter]) -> list[str]:
        """Append each letter's payload to its topic and record it, in one transaction."""
        with self._run_lock():
            try:
                return self._replay_locked(letters)
            except sqlite3.DatabaseError as exc:
                raise WirewatchError(f"{self.path}: cannot replay: {exc}") from None

    def _replay_locked(self, letters: Sequence[Letter]) -> list[str]:
        from wirewatch.bus.memory import MemoryBus
        from wirewatch.core.sqlite import Database

        db = Database.in_dir(self.data_dir)
        try:
            db.conn.execute(_REPLAYS_TABLE)
            done = dict(db.conn.execute(
                "SELECT letter_id, at FROM deadletter_replays WHERE topic = ?", (self.topic,)).fetchall())
            bus = MemoryBus(partitions=1, conn=db.conn)
            lines: list[str] = []
            with db.transaction() as conn:
                for letter in letters:
                    if letter.id in done:
                        lines.append(already(letter, done[letter.id]))
                        continue
                    topic, key, payload = letter.target()
                    bus.append_raw(topic, payload, key)
                    conn.execute("INSERT INTO deadletter_replays (topic, letter_id, at, target) VALUES (?, ?, ?, ?)",
                                 (self.topic, letter.id, utc_now(), topic))
                    lines.append(replayed(letter, topic))
            return lines
        finally:
            db.close()

    @contextlib.contextmanager
    def _run_lock(self) -> Iterator[None]:
        """The lock ``wirewatch run`` holds on its data folder: taken here, or refused."""
        try:
            handle = (self.data_dir / "run.lock").open("a+")
        except OSError as exc:
            raise ConfigError(str(self.data_dir), f"cannot use the data folder: {exc}") from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise WirewatchError(
                    f"{self.data_dir}: `wirewatch run` is using this data folder; stop wirewatch run first "
                    "(its bus lives in that process), then replay and start it again") from None
            yield
        finally:
            handle.close()


# -- Kafka: the dead-letter topic ------------------------------------------------------------

class KafkaLetters:
    """The Kafka topic ``<prefix>.dead-letter``; replays recorded in ``<prefix>.dead-letter-replayed``."""

    def __init__(self, settings: Settings) -> None:
        assert settings.kafka_bootstrap
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        self.topic = settings.dead_letter_topic

    async def letters(self) -> list[Letter]:
        from wirewatch.bus.kafka import PartitionReader, read_latest, topic_partitions

        partitions = await topic_partitions(self.bootstrap, [self.topic])
        record_topic = replayed_topic(self.settings)
        replays: dict[str, Any] = {}
        # read_latest on a topic not created yet: aiokafka's consumer stop raised CancelledError
        if await topic_partitions(self.bootstrap, [record_topic]):
            replays = await read_latest(self.bootstrap, record_topic)
        reader = PartitionReader(self.bootstrap)
        letters: list[Letter] = []
        try:
            ends = await reader.end_offsets(partitions) if partitions else {}
            for tp in sorted(partitions, key=lambda t: t.partition):
                if ends.get(tp, 0) == 0:
                    continue
                for record in await reader.read(tp, 0, ends[tp]):
                    letters.append(parse_letter(record.partition, record.offset, record.value))
        finally:
            await reader.close()
        return [Letter(x.id, x.record, _replay_time(replays.get(x.id))) for x in
                sorted(letters, key=lambda x: (x.at, x.id))]

    async def replay(self, letters: Sequence[Letter]) -> list[str]:
        """Publish each payload (acknowledged), then record the replay."""
        from wirewatch.bus.kafka import KafkaPublisher, TopicSpec, ensure_topics, make_producer

        record_topic = replayed_topic(self.settings)
        await ensure_topics(self.bootstrap, [TopicSpec(record_topic, 1, {"cleanup.policy": "compact"})])
        producer = make_producer(self.bootstrap)
        records = KafkaPublisher(self.bootstrap)
        await producer.start()
        await records.start()
        lines: list[str] = []
        try:
            for letter in letters:
                if letter.replayed_at:
                    lines.append(already(letter, letter.replayed_at))
                    continue
                topic, key, payload = letter.target()
                await producer.send_and_wait(topic, payload, key=key.encode("utf-8") if key else None)
                await records.publish(record_topic, {"at": utc_now(), "target": topic}, key=letter.id)
                lines.append(replayed(letter, topic))
        finally:
            await producer.stop()
            await records.stop()
        return lines


def _replay_time(value: Any) -> str | None:
    return str(value.get("at")) if isinstance(value, dict) and value.get("at") else None


def replayed(letter: Letter, topic: str) -> str:
    whom = f" for {letter.destination}" if letter.destination else ""
    return f"replayed {letter.id} ({letter.stage}{whom}) -> {topic}"


def already(letter: Letter, at: str) -> str:
    return f"{letter.id} was already replayed at {at}: nothing done"


# -- the command ------------------------------------------------------------------------------

EXAMPLES = """\
examples:
  wirewatch deadletters list --data-dir .wirewatch
  wirewatch deadletters list --stage notifier --since 24h --json
  wirewatch deadletters replay 0-12 0-13          # by id, as `list` shows it
  wirewatch deadletters replay --stage notifier   # every notifier letter not replayed yet

One machine: the dead letters of `wirewatch run` in --data-dir (stop `wirewatch run`
before a replay; it picks the replayed messages up when started again). With
WIREWATCH_KAFKA_BOOTSTRAP set: the topic <prefix>.dead-letter (services may run).
"""


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add ``deadletters list|replay`` to the ``wirewatch`` command."""
    parser = subparsers.add_parser(
        "deadletters", help="list dead letters and replay them where they came from",
        description="What a stage could not handle (bad input, a store's refusal, a destination down), "
        "listed and put back on the topic it came from.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="the data folder of `wirewatch run` (default: WIREWATCH_DATA_DIR or ./.wirewatch); "
                        "never created")
    common.add_argument("--stage", choices=STAGES, help="only letters of this stage")
    common.add_argument("--since", type=_duration, metavar="DURATION", help="only letters this recent (e.g. 24h)")
    listing = actions.add_parser("list", parents=[common], help="one line per dead letter, oldest first",
                                 epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--json", action="store_true", help="one JSON object per line, the record whole")
    listing.set_defaults(func=cmd_list)
    replay = actions.add_parser("replay", parents=[common], help="put letters back where they came from, once",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("ids", nargs="*", metavar="ID", help="letters to replay (ids from `list`)")
    replay.add_argument("--all", action="store_true", help="every letter (narrowed by --stage, --since)")
    replay.set_defaults(func=cmd_replay)


def _settings(args: argparse.Namespace) -> Settings:
    from wirewatch.core.logging import configure_logging

    settings = load_settings(data_dir=args.data_dir) if args.data_dir else load_settings()
    configure_logging("warning" if settings.log_level == "info" else settings.log_level, settings.log_format)
    return settings


def _letters_of(settings: Settings) -> EmbeddedLetters | KafkaLetters:
    return KafkaLetters(settings) if settings.kafka_bootstrap else EmbeddedLetters(settings)


async def _read(source: EmbeddedLetters | KafkaLetters) -> list[Letter]:
    if isinstance(source, KafkaLetters):
        return await _kafka(source.letters(), source.bootstrap)
    return source.letters()


async def _kafka(call: Any, bootstrap: str) -> Any:
    """A Kafka call; a broker that can't be reached is the one ``cannot reach Kafka`` line."""
    from wirewatch.bus.kafka import reaching

    async with reaching(bootstrap):
        return await call


def cmd_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    source = _letters_of(settings)
    letters = select(asyncio.run(_read(source)), stage=args.stage, since=args.since)
    out = sys.stdout
    for letter in letters:
        out.write((json.dumps(letter.summary(), ensure_ascii=False) if args.json else letter.line()) + "\n")
    if not letters and not args.json:
        print("no dead letters" + _narrowed(args), file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    if not (args.ids or args.all or args.stage):
        raise WirewatchError("name the letters to replay: ID ..., --all or --stage STAGE")
    if args.ids and args.all:
        raise WirewatchError("give IDs or --all, not both")
    settings = _settings(args)
    source = _letters_of(settings)
    letters = select(asyncio.run(_read(source)), args.ids, stage=args.stage, since=args.since)
    if not letters:
        print("no dead letters to replay" + _narrowed(args), file=sys.stderr)
        return 0
    if isinstance(source, KafkaLetters):
        lines = asyncio.run(_kafka(source.replay(letters), source.bootstrap))
    else:
        lines = source.replay(letters)
    _print(lines)
    return 0


def _narrowed(args: argparse.Namespace) -> str:
    parts = [f"stage {args.stage}" if args.stage else "", f"since {args.since}" if args.since else ""]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)
