"""``wirewatch process`` (JSON lines in, JSON lines out) and ``wirewatch processor`` (Faust worker)."""

from __future__ import annotations

import argparse
import gc
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wirewatch.core.config import load_settings
from wirewatch.core.errors import SchemaError
from wirewatch.core.logging import configure_logging, get_logger

#: Items processed together. Signatures amortise their numpy/rensa calls over a batch, but
#: the batch's token lists must still be in the CPU cache when they are read again: 16
#: items (~250 KB of tokens) had 20% fewer last-level cache misses than 64 (cachegrind).
BATCH = 16
#: With spaCy, nlp.pipe gains from larger batches.
NER_BATCH = 64


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--rules", required=True, type=Path, metavar="FILE", help="rules.yaml with alert rules")
    common.add_argument(
        "--ner", choices=("auto", "on", "off"), default="auto",
        help="spaCy NER: auto = when a model is installed (default), on = required, off = gazetteer only",
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
            "A broken line or an invalid item is logged on stderr (with its line number) and skipped."
        ),
        epilog=(
            "examples:\n"
            "  wirewatch process --rules rules.yaml --ner off < raw.jsonl > processed.jsonl\n"
            "  wirewatch poll --once --config sources.yaml | wirewatch process --rules rules.yaml\n"
            "  wirewatch process --rules rules.yaml --watchlist watchlist.yaml --ner on < raw.jsonl"
        ),
    )
    process.set_defaults(func=run_process)

    worker = subparsers.add_parser(
        "processor",
        parents=[common],
        help="run the Faust stream processor: <prefix>.raw -> <prefix>.processed and <prefix>.alerts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run a Faust worker over Kafka (WIREWATCH_KAFKA_BOOTSTRAP). Start several to share the\n"
            "partitions. Rules are re-read within 10 s of a change to --rules, without a restart.\n"
            "Invalid input goes to <prefix>.dead-letter with the reason."
        ),
        epilog=(
            "examples:\n"
            "  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:9092 wirewatch processor --rules rules.yaml\n"
            "  WIREWATCH_TOPIC_PREFIX=staging WIREWATCH_METRICS_PORT=9102 wirewatch processor --rules rules.yaml --ner off"
        ),
    )
    worker.set_defaults(func=run_processor)


def build_processor(args: argparse.Namespace, store: Any = None) -> Any:
    """A :class:`Processor` from the command line: rules, watchlist, NER mode, dedupe store."""
    from wirewatch.processors.dedupe import Deduper
    from wirewatch.processors.entities import EntityTagger, load_watchlist, resolve_ner
    from wirewatch.processors.pipeline import Processor
    from wirewatch.processors.rules import load_rules

    rules = load_rules(args.rules)
    watch = load_watchlist(args.watchlist) if args.watchlist else []
    ner = resolve_ner(args.ner)
    return Processor(rules, EntityTagger(watch), Deduper({} if store is None else store), ner)


def _line_batches(fd: int, size: int = BATCH) -> Iterator[list[tuple[int, bytes]]]:
    """Numbered non-blank input lines, up to ``size`` at a time.

    A batch is cut short when no more input is waiting, so items from a slow
    producer (``wirewatch poll | wirewatch process``) are never held back to fill it.
    """
    batch: list[tuple[int, bytes]] = []
    number = 0
    rest = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                batch.append((number, line))
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch and not select.select([fd], [], [], 0)[0]:
            yield batch
            batch = []
    if rest.strip():
        batch.append((number + 1, rest))
    if batch:
        yield batch


def run_process(args: argparse.Namespace) -> int:
    """The ``process`` contract: stdout gets one line per valid input line, in order; exit 0."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    log = get_logger("process")
    from wirewatch.bus.base import decode, encode_line
    from wirewatch.processors.pipeline import validate_raw

    processor = build_processor(args)
    # rules and gazetteer live as long as the process: keep the collector from re-scanning them
    gc.freeze()
    # the dedupe memory grows by a few small records an item and holds no cycles:
    # collect young objects rarely instead of re-walking a growing heap
    gc.set_threshold(50_000, 20, 1000)
    sys.stdout.flush()
    out = sys.stdout.buffer  # bytes in, bytes out: orjson on both ends, no text layer

    def parse(number: int, line: bytes) -> dict[str, Any] | None:
        try:
            obj = decode(line)
        except ValueError as exc:
            log.warning("skipped input line", line=number, reason=f"invalid JSON: {exc}")
            return None
        try:
            return validate_raw(obj)
        except SchemaError as exc:
            log.warning("skipped input line", line=number, reason=str(exc))
            return None

    count = 0
    for lines in _line_batches(sys.stdin.buffer.fileno(), NER_BATCH if processor.ner is not None else BATCH):
        raws = [raw for raw in (parse(number, line) for number, line in lines) if raw is not None]
        # batched: NER (when on) and the MinHash signatures run once per batch
        results = processor.finish_batch(processor.enrich_batch(raws), with_alerts=False)
        out.write(b"".join([encode_line(result.item) for result in results]))
        out.flush()
        count += len(raws)
    log.debug("process done", items=count)
    return 0


def run_processor(args: argparse.Namespace) -> int:
    """Run the Faust worker until interrupted."""
    from wirewatch.processors.faust_app import run_worker

    return run_worker(args)
