"""``wirewatch poll`` (one pass, JSON lines on stdout) and ``wirewatch poller`` (continuous, Kafka)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from wirewatch.core.config import load_settings, parse_duration
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import configure_logging, get_logger
from wirewatch.core.metrics import serve_metrics
from wirewatch.pollers.config import load_sources

log = get_logger("pollers.cli")

POLL_EXAMPLES = """\
examples:
  # poll every source once; new or edited items as JSON lines on stdout
  wirewatch poll --once --config sources.yaml --state .wirewatch/state > items.jsonl
  # a second run against unchanged sources prints nothing
  wirewatch poll --once --config sources.yaml --state .wirewatch/state
  # keep items that break schemas/raw_item.json, with the reason, apart
  wirewatch poll --once --config sources.yaml --state .wirewatch/state --dead-letters bad.jsonl

stdout carries raw items only. An item the poller cannot emit (it breaks
schemas/raw_item.json) is one warning line on stderr, and its dead letter
(schemas/dead_letter.json) a JSON line in --dead-letters FILE when given.

exit status: 0 when the run completed (failed sources are logged on stderr, one
line each, naming the source and the reason); 2 when the config is unusable.
"""

POLLER_EXAMPLES = """\
examples:
  # continuous polling, publishing raw items to <prefix>.raw
  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 wirewatch poller --config sources.yaml
  # a second instance (same group) shares the sources and takes over if one dies
  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 WIREWATCH_METRICS_PORT=9101 wirewatch poller --config sources.yaml

state lives in the compacted <prefix>.poller-state topic; /metrics is served on
WIREWATCH_METRICS_PORT when set.
"""


def register(subparsers: Any) -> None:
    """Add ``poll`` and ``poller`` to the ``wirewatch`` command."""
    poll = subparsers.add_parser(
        "poll",
        help="poll every source once, print new or revised items as JSON lines",
        description="Poll every source in the config once and print each new or revised item "
        "as one JSON line (schemas/raw_item.json) on stdout; logs go to stderr.",
        epilog=POLL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    poll.add_argument(
        "--once", action="store_true", required=True, help="one pass over all sources (required)"
    )
    poll.add_argument("--config", required=True, type=Path, metavar="FILE", help="sources.yaml")
    poll.add_argument(
        "--state",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder of per-source state (created if missing)",
    )
    poll.add_argument(
        "--dead-letters",
        type=Path,
        metavar="FILE",
        help="also write dead letters (schemas/dead_letter.json) as JSON lines to FILE",
    )
    poll.set_defaults(func=run_poll)

    poller = subparsers.add_parser(
        "poller",
        help="poll sources continuously and publish raw items to Kafka",
        description="Poll sources on their intervals and publish raw items to Kafka "
        "(WIREWATCH_KAFKA_BOOTSTRAP). Instances with the same --group share the sources.",
        epilog=POLLER_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    poller.add_argument("--config", required=True, type=Path, metavar="FILE", help="sources.yaml")
    poller.add_argument(
        "--group",
        default=None,
        metavar="ID",
        help="consumer group shared by instances (default <prefix>.pollers)",
    )
    poller.add_argument(
        "--session-timeout",
        default="10s",
        type=parse_duration,
        metavar="DURATION",
        help="how long before a silent instance's sources are taken over (default 10s, min 6s)",
    )
    poller.set_defaults(func=run_poller)


def run_poll(args: argparse.Namespace) -> int:
    # Imported here: `wirewatch --help` and other commands should not pay for httpx.
    from wirewatch.pollers.poller import Poller, StdoutPublisher, make_fetcher
    from wirewatch.pollers.state import DirectoryStateStore

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = load_sources(args.config)
    if args.state.exists() and not args.state.is_dir():
        raise ConfigError("--state", f"{args.state} is not a directory")

    async def main(publisher: StdoutPublisher) -> None:
        async with make_fetcher(config.fetch, settings.user_agent) as fetcher:
            poller = Poller(
                state=DirectoryStateStore(args.state),
                fetcher=fetcher,
                publisher=publisher,
                raw_topic=settings.raw_topic,
                dead_letter_topic=settings.dead_letter_topic,
                concurrency=config.fetch.concurrency,
            )
            results = await poller.poll_once(config.sources)
        failed = sum(1 for r in results if r.failed)
        emitted = sum(len(r.items) for r in results)
        log.info("poll_done", sources=len(results), failed=failed, emitted=emitted)

    with contextlib.ExitStack() as files:
        dead = None
        if args.dead_letters is not None:
            try:
                dead = files.enter_context(args.dead_letters.open("w", encoding="utf-8"))
            except OSError as exc:
                raise ConfigError("--dead-letters", f"{args.dead_letters}: {exc.strerror}") from None
        asyncio.run(main(StdoutPublisher(raw_topic=settings.raw_topic, dead_letters=dead)))
    return 0


def run_poller(args: argparse.Namespace) -> int:
    from wirewatch.pollers.group import PollerGroup

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = load_sources(args.config)
    if not settings.kafka_bootstrap:
        raise ConfigError(
            "WIREWATCH_KAFKA_BOOTSTRAP",
            "required by `wirewatch poller` (embedded mode: `wirewatch run`)",
        )
    if settings.metrics_port:
        port = serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("metrics_serving", port=port)

    async def main() -> None:
        from wirewatch.bus.kafka import ensure_topics, standard_topics
        from wirewatch.core.reach import until_reachable_or_signalled

        bootstrap = settings.kafka_bootstrap or ""
        # Kafka first: the group's clients are made once it answers (a stop meanwhile leaves none open)
        if not await until_reachable_or_signalled(lambda: ensure_topics(bootstrap, standard_topics(settings)), settings):
            return
        group = PollerGroup(
            sources=config.sources,
            fetch=config.fetch,
            settings=settings,
            bootstrap=bootstrap,
            group_id=args.group,
            session_timeout_ms=int(args.session_timeout.total_seconds() * 1000),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, group.stop.set)
        log.info("poller_started", sources=len(config.sources), group=group.group_id)
        await group.run()

    asyncio.run(main())
    return 0
