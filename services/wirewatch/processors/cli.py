"""``wirewatch process`` (JSON lines in, JSON lines out) and ``wirewatch processor`` (Faust worker)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wirewatch.core.config import load_settings
from wirewatch.core.logging import configure_logging, get_logger

if TYPE_CHECKING:
    from wirewatch.processors.pipeline import ProcessorConfig


#: Default ``--max-line-bytes``: above what a poller can emit (it reads at most 10 MB a response).
MAX_LINE_BYTES = 16 << 20
#: Bytes asked of stdin at a time. 64 KB reads: 1 MB chunks were copied twice more while cold
#: (14k more instructions an item, cachegrind); tests/processors/test_process_cli.py feeds lines
#: across chunk borders.
READ_BYTES = 1 << 16


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rules", required=True, type=Path, metavar="FILE", help="rules.yaml with alert rules")
    common.add_argument(
        "--ner", choices=("auto", "on", "off"), default="auto",
        help="NER per language (English: spaCy, Russian: natasha; items in other languages get the catalogue only): auto = the models installed (default), on = required, off = gazetteer only",
    )
    common.add_argument("--watchlist", type=Path, metavar="FILE", help="watchlist.yaml with extra entities and aliases")

    process = subparsers.add_parser(
        "process",
        parents=[common],
        help="dedupe, tag entities and match rules: raw JSON lines on stdin -> processed JSON lines on stdout",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read raw items (schemas/raw_item.json) as JSON lines on stdin and write processed items\n"
            "(schemas/processed_item.json) on stdout, in input order: each keeps its id and gains\n"
            "dedupe {status, of}, story_id, entities [...] and alerts [{rule, notify}].\n"
            "A broken line, an invalid item or a line over --max-line-bytes becomes a dead letter\n"
            "(schemas/dead_letter.json, the whole line as its payload): one warning line on stderr,\n"
            "and the record in --dead-letters FILE when given.\n"
            "Rules are re-read within 2 s of a change to --rules, as in every long-running path."
        ),
        epilog=(
            "examples:\n"
            "  wirewatch process --rules rules.yaml --ner off < raw.jsonl > processed.jsonl\n"
            "  wirewatch poll --once --config sources.yaml --state .wirewatch/state | wirewatch process --rules rules.yaml\n"
            "  wirewatch process --rules rules.yaml --watchlist watchlist.yaml --ner on < raw.jsonl\n"
            "  wirewatch process --rules rules.yaml --alerts alerts.jsonl --dead-letters bad.jsonl < raw.jsonl\n"
            "  wirewatch process --rules rules.yaml --max-line-bytes 67108864 < raw.jsonl   # lines up to 64 MiB"
        ),
    )
    process.add_argument("--alerts", type=Path, metavar="FILE",
                         help="also write the alerts (schemas/alert.json) as JSON lines to FILE")
    process.add_argument("--dead-letters", type=Path, metavar="FILE",
                         help="also write dead letters (schemas/dead_letter.json) as JSON lines to FILE")
    process.add_argument("--max-line-bytes", type=_positive, default=MAX_LINE_BYTES, metavar="N",
                         help="a longer input line is a dead letter (reason 'too large', the whole line kept) "
                              f"instead of being processed (default {MAX_LINE_BYTES:,} = 16 MiB)")
    process.set_defaults(func=run_process)

    worker = subparsers.add_parser(
        "processor",
        parents=[common],
        help="run the Faust stream processor: <prefix>.raw -> <prefix>.processed and <prefix>.alerts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run a Faust worker over Kafka (WIREWATCH_KAFKA_BOOTSTRAP). Start several to share the\n"
            "partitions. Rules are re-read within 2 s of a change to --rules, without a restart.\n"
            "Invalid input goes to <prefix>.dead-letter with the reason."
        ),
        epilog=(
            "examples:\n"
            "  # on the local stack (make stack-up)\n"
            "  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 wirewatch processor --rules rules.yaml\n"
            "  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 WIREWATCH_TOPIC_PREFIX=staging WIREWATCH_METRICS_PORT=9102 \\\n"
            "    wirewatch processor --rules rules.yaml --ner off"
        ),
    )
    worker.set_defaults(func=run_processor)


def processor_config(args: argparse.Namespace) -> ProcessorConfig:
    """The processor the command line asks for (``--rules``, ``--watchlist``, ``--ner``)."""
    from wirewatch.processors.pipeline import ProcessorConfig

    return ProcessorConfig(rules=args.rules, watchlist=args.watchlist, ner=args.ner)


def _lines(fd: int) -> Iterator[tuple[bytes, bool]]:
    """``(line, more_waiting)`` for each line of ``fd`` (newline removed), in time linear in the input.

    A line longer than one read is kept as a list of its pieces and joined once at its end;
    ``rest + chunk`` at every read copied the line so far each time: a 40 MB line 10.0 -> 0.54
    CPU-s (bench ``process.long_line``; tests/processors/test_process_cli.py and
    test_process_huge_lines.py guard the lines). ``more_waiting`` is False for the last line
    of a read when no more input is waiting yet.
    """
    pending: list[bytes] = []  # pieces of a line not ended yet
    while True:
        chunk = os.read(fd, READ_BYTES)
        if not chunk:
            break
        lines = chunk.split(b"\n")
        if len(lines) == 1:  # no newline: the line goes on
            pending.append(chunk)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
        tail = lines.pop()
        pending = [tail] if tail else []
        last = len(lines) - 1
        for index, line in enumerate(lines):
            yield line, index < last or bool(select.select([fd], [], [], 0)[0])
    if pending:
        yield b"".join(pending), False


def _line_batches(fd: int, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Numbered non-blank input lines, up to ``size`` at a time.

    A batch is cut short when no more input is waiting, so items from a slow
    producer (``wirewatch poll | wirewatch process``) are never held back to fill it.
    """
    batch: list[tuple[int, bytes]] = []
    for number, (line, more) in enumerate(_lines(fd), start=1):
        if line.strip():
            batch.append((number, line))
        if batch and (len(batch) >= size or not more):
            yield batch
            batch = []
    if batch:
        yield batch


def run_process(args: argparse.Namespace) -> int:
    """The ``process`` contract: stdout gets one line per valid input line, in order; exit 0."""
    # no collection while modules, rules and catalogue load (what they allocate is kept, then
    # frozen below): 2 full and ~200 young collections, 0.03-0.04 CPU-s of every start, saved;
    # the output is the same (tests/processors/test_process_cli.py)
    gc.disable()
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    log = get_logger("process")
    from wirewatch.bus.base import Message, encode_line
    from wirewatch.processors.pipeline import Processor
    from wirewatch.processors.stage import RulesWatcher, Stage

    processor = Processor.from_config(processor_config(args), {})
    stage = Stage(processor, max_message_bytes=args.max_line_bytes)
    watcher = RulesWatcher(args.rules, processor)
    # rules and gazetteer live as long as the process, and the dedupe memory holds no cycles:
    # frozen start-up objects, rare young collections: 20,000 bench items 3.05-3.12 -> 2.84-2.94
    # CPU-s (6%); the output is the same (tests/processors/test_process_cli.py)
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)
    gc.enable()
    sys.stdout.flush()
    out = sys.stdout.buffer  # bytes in, bytes out: orjson on both ends, no text layer
    with contextlib.ExitStack() as files:
        alerts = files.enter_context(args.alerts.open("wb")) if args.alerts else None
        dead = files.enter_context(args.dead_letters.open("wb")) if args.dead_letters else None
        count = 0
        for lines in _line_batches(sys.stdin.buffer.fileno(), stage.batch_size):
            if watcher.due():
                watcher.check()
            read_ms = int(time.time() * 1000)
            messages = [Message("stdin", 0, number - 1, None, None, line, read_ms) for number, line in lines]
            result = stage.process(messages)
            out.write(b"".join([encode_line(item) for _key, item in result.processed]))
            out.flush()
            if alerts is not None and result.alerts:
                alerts.write(b"".join([encode_line(alert) for _key, alert in result.alerts]))
                alerts.flush()
            if dead is not None and result.dead_letters:
                dead.write(b"".join([encode_line(record) for _key, record in result.dead_letters]))
                dead.flush()
            count += len(result.processed)
    log.debug("process done", items=count)
    return 0


def run_processor(args: argparse.Namespace) -> int:
    """Run the Faust worker until interrupted."""
    from wirewatch.processors.faust_app import run_worker

    return run_worker(args)
