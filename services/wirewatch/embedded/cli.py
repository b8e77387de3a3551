"""``wirewatch run``: the whole pipeline in one process (embedded by default)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from wirewatch.core.config import Settings, load_settings
from wirewatch.core.logging import configure_logging, get_logger
from wirewatch.core.metrics import serve_metrics

log = get_logger("embedded.run")

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
    """Load and check every file first (errors: one line, exit 2), then run until signalled.

    Exit status: 130 after Ctrl-C (SIGINT, the shell's convention), 0 after SIGTERM (a service
    manager's normal stop); either way after a clean shutdown and a one-line summary.
    """
    from wirewatch.embedded.runner import Runner, RunOptions, load_config
    from wirewatch.embedded.web import parse_allowed_hosts, parse_bind

    settings = settings_for(args)
    live = sys.stderr.isatty() and settings.log_format != "json"
    options = RunOptions(
        sources=args.config, rules=args.rules, destinations=args.destinations,
        watchlist=args.watchlist, ner=args.ner, web=parse_bind(args.web), fresh_store=args.fresh_store,
        allowed_hosts=parse_allowed_hosts(args.web_allowed_hosts),
    )
    console = None
    if live:
        from rich.console import Console
        from rich.file_proxy import FileProxy

        from wirewatch.embedded.view import SHOWN_BY_VIEW

        console = Console(stderr=True, highlight=False)
        # log lines print above the status line; per-poll failures become the view's own lines
        configure_logging("warning" if settings.log_level == "info" else settings.log_level,
                          settings.log_format, stream=FileProxy(console, sys.stderr), skip=SHOWN_BY_VIEW)
    else:
        configure_logging(settings.log_level, settings.log_format)
    runner = Runner(options, settings, load_config(options))
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    try:
        received = asyncio.run(_main(runner, console))
    except KeyboardInterrupt:  # Ctrl-C in the instant before the handlers were installed
        received = signal.SIGINT
        _stopped(runner, console, received)
    return 130 if received == signal.SIGINT else 0


def _stopped(runner: Any, console: Any, received: signal.Signals | None) -> None:
    """The one summary of the session: a line on the terminal, else a ``run stopped`` log line."""
    from wirewatch.embedded.view import summary_fields, summary_line

    if console is None:
        log.info("run stopped", **summary_fields(runner, received.name if received else None))
    else:
        console.print(summary_line(runner), soft_wrap=True)


async def _main(runner: Any, console: Any) -> signal.Signals | None:
    from wirewatch.embedded.runner import Signals, run_until_signalled
    from wirewatch.embedded.view import TerminalView, live_status

    undelivered = runner.options.destinations is None and bool(runner.config.processor.rules.rules)
    with Signals(runner, asyncio.Event(), then_ignore=True) as signals:
        if console is None:
            if undelivered:
                log.info("no --destinations: alerts are stored, not sent anywhere")
            received = await run_until_signalled(runner, signals=signals)
        else:
            view = TerminalView(runner, console)
            if undelivered:
                view.note("no --destinations: alerts are shown here and stored, not sent anywhere")
            runner.listeners.append(view.result)
            done = asyncio.Event()
            with live_status(view) as live:
                drawing = asyncio.create_task(view.run(live, done))
                try:
                    received = await run_until_signalled(runner, signals=signals)
                finally:
                    done.set()
                    await drawing
    _stopped(runner, console, received)
    return received
