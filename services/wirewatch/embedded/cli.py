"""``wirewatch run``: the whole pipeline in one process (embedded by default)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wirewatch.core.config import Settings, load_settings
from wirewatch.core.logging import configure_logging
from wirewatch.core.metrics import serve_metrics

RUN_EXAMPLES = """\
examples:
  # one machine, nothing else to install: SQLite under ./.wirewatch, page on 127.0.0.1:8750
  wirewatch run --config examples/sources.yaml --rules examples/rules.yaml
  # alerts as webhooks, data elsewhere, no web page
  wirewatch run --config sources.yaml --rules rules.yaml --destinations destinations.yaml \\
      --data-dir ~/wirewatch-data --web off
  # the same command on the distributed stack: set the two addresses
  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 WIREWATCH_ELASTICSEARCH_URL=http://127.0.0.1:19200 \\
      wirewatch run --config sources.yaml --rules rules.yaml
  # search what it stored, from another shell
  WIREWATCH_DATA_DIR=.wirewatch wirewatch search '"grain corridor" AND Ukraine' --since 24h

Without WIREWATCH_KAFKA_BOOTSTRAP the bus is in-process; without
WIREWATCH_ELASTICSEARCH_URL items go to SQLite FTS5. Everything (items, dedupe
memory, poll state, delivered alerts) persists in the data folder: stop with
Ctrl-C and start again to continue where it stopped.
"""


def register(subparsers: Any) -> None:
    """Add ``run`` to the ``wirewatch`` command."""
    run = subparsers.add_parser(
        "run",
        help="pollers, processor, indexer and notifier in one process (the main job)",
        description="Poll the sources, dedupe, tag entities, match rules, store and notify, all in\n"
        "this process, with a small read-only web page (search, stories, live alerts).",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", required=True, type=Path, metavar="FILE", help="sources.yaml")
    run.add_argument("--rules", required=True, type=Path, metavar="FILE", help="rules.yaml")
    run.add_argument("--destinations", type=Path, metavar="FILE",
                     help="destinations.yaml (webhooks named by the rules' notify:)")
    run.add_argument("--watchlist", type=Path, metavar="FILE", help="watchlist.yaml: extra entities and aliases")
    run.add_argument("--data-dir", type=Path, metavar="DIR",
                     help="where everything persists (default: WIREWATCH_DATA_DIR or ./.wirewatch)")
    run.add_argument("--web", default="127.0.0.1:8750", metavar="HOST:PORT|off",
                     help="serve the web page here (default 127.0.0.1:8750; off = no page); an address "
                     "beyond loopback is warned about: the page has no login")
    run.add_argument("--web-allowed-hosts", metavar="NAME[,NAME...]",
                     help="more Host names the page answers to (e.g. news.example.org behind a proxy, "
                     "or wire.lan:8750); by default only the address it listens on and localhost")
    run.add_argument("--fresh-store", action="store_true",
                     help="if a data file (wirewatch.db, delivered.db) is empty or damaged, move it aside "
                     "to <name>.damaged-<time> and start a new one (without this, run refuses: exit 2); "
                     "delivered alerts are not sent again")
    run.add_argument("--ner", choices=("auto", "on", "off"), default="auto",
                     help="NER per language (English: spaCy, Russian: natasha): auto = the models installed (default), on, off")
    run.set_defaults(func=run_command)


def settings_for(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir=args.data_dir) if args.data_dir else load_settings()


def run_command(args: argparse.Namespace) -> int:
    """Load and check every file first (errors: one line, exit 2), then run until signalled."""
    from wirewatch.embedded.runner import Runner, RunOptions, load_config
    from wirewatch.embedded.web import parse_allowed_hosts, parse_bind

    settings = settings_for(args)
    live = sys.stderr.isatty() and settings.log_format != "json"
    configure_logging("warning" if live and settings.log_level == "info" else settings.log_level,
                      settings.log_format)
    options = RunOptions(
        sources=args.config, rules=args.rules, destinations=args.destinations,
        watchlist=args.watchlist, ner=args.ner, web=parse_bind(args.web), fresh_store=args.fresh_store,
        allowed_hosts=parse_allowed_hosts(args.web_allowed_hosts),
    )
    runner = Runner(options, settings, load_config(options))
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    asyncio.run(_main(runner, live))
    return 0


async def _main(runner: Any, live: bool) -> None:
    from wirewatch.embedded.runner import run_until_signalled

    with summary_line(runner) if live else contextlib.nullcontext():
        await run_until_signalled(runner)


@contextlib.contextmanager
def summary_line(runner: Any) -> Iterator[None]:
    """A rich live line on stderr: items/s, stories, alerts, where the page is."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    console = Console(stderr=True)

    def render() -> Text:
        stats = runner.stats
        store = runner.store
        try:
            stories = store.story_count() if hasattr(store, "story_count") else stats.verdicts.get("new", 0)
        except sqlite3.DatabaseError:  # damage: the runner or the page reports it, the line goes on
            stories = "?"
        text = Text()
        text.append("wirewatch run ", style="bold")
        if not runner.ready.is_set():
            return text.append("starting…")
        text.append(f"{stats.processed} items ({stats.rate():.1f}/s) · {stories} stories · "
                    f"{stats.alerts} alerts")
        folded = sum(stats.verdicts.get(k, 0) for k in ("duplicate", "near_duplicate"))
        text.append(f" · {folded} folded · {stats.verdicts.get('update', 0)} updates")
        if stats.dead_letters:
            text.append(f" · {stats.dead_letters} dead letters", style="yellow")
        if runner.web_url:
            text.append(f" · {runner.web_url}", style="cyan")
        return text

    class _Line:
        def __rich__(self) -> Text:
            return render()

    with Live(_Line(), console=console, refresh_per_second=2, transient=False):
        yield
