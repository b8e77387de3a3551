"""``wirewatch indexer | notifier | search | rules backtest``.

``search`` and ``rules backtest`` read Elasticsearch when
``WIREWATCH_ELASTICSEARCH_URL`` is set, otherwise the embedded SQLite store
in ``--data-dir`` (default ``WIREWATCH_DATA_DIR``), opened read-only: a read
never creates a store; a folder without one is one line and exit 2. Both go
through the same Lucene query string.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import shlex
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wirewatch.core.config import Settings, load_settings, parse_duration
from wirewatch.core.errors import ConfigError, WirewatchError
from wirewatch.core.logging import configure_logging
from wirewatch.core.metrics import serve_metrics
from wirewatch.core.sqlite import is_damage
from wirewatch.sinks.store import MAX_WINDOW, ItemStore, SearchHit, SearchPage


def _settings(data_dir: Path | None = None) -> Settings:
    settings = load_settings(data_dir=data_dir) if data_dir is not None else load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    if number > MAX_WINDOW:  # what both stores serve (Elasticsearch's index.max_result_window)
        raise argparse.ArgumentTypeError(f"at most {MAX_WINDOW}, got {value!r}")
    return number


async def _until_signalled(main: Any) -> None:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` for a clean shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await main(stop)


def _serve_metrics(settings: Settings) -> None:
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)


def cmd_indexer(args: argparse.Namespace) -> int:
    from wirewatch.sinks.indexer import run_indexer

    settings = _settings()
    _serve_metrics(settings)
    asyncio.run(_until_signalled(lambda stop: run_indexer(settings, group=args.group, stop=stop)))
    return 0


def cmd_notifier(args: argparse.Namespace) -> int:
    from wirewatch.sinks.destinations import load_destinations
    from wirewatch.sinks.notifier import run_notifier

    settings = _settings()
    destinations = load_destinations(args.destinations)
    _serve_metrics(settings)
    asyncio.run(_until_signalled(
        lambda stop: run_notifier(settings, destinations, group=args.group, stop=stop)))
    return 0


def open_store(settings: Settings, *, read_only: bool = False) -> ItemStore:
    """Elasticsearch when configured, else the embedded SQLite store (``read_only``: an existing
    one, never created: :class:`wirewatch.sinks.sqlite.NoStore` when the folder holds none)."""
    if settings.elasticsearch_url:
        from wirewatch.sinks.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_url(settings.elasticsearch_url, settings.index_prefix)
    try:
        from wirewatch.sinks.sqlite import SqliteStore
    except ImportError as exc:
        raise WirewatchError(
            f"no store: WIREWATCH_ELASTICSEARCH_URL is not set and the embedded store is unavailable ({exc})"
        ) from None
    return SqliteStore(settings.data_dir, read_only=read_only)


async def _search(settings: Settings, query: str, since: timedelta | None, limit: int,
                  stories_only: bool) -> SearchPage:
    """The newest ``limit`` hits and how many match in all (the stores count every match)."""
    from wirewatch.search.query import QuerySyntaxError, parse, shorten

    try:
        parse(query)  # a bad query is reported before any store is opened
    except QuerySyntaxError as exc:  # a hostile query is quoted shortened: one readable line
        raise WirewatchError(f"bad query {shorten(query, 100)!r}: {exc}") from None
    store = open_store(settings, read_only=True)
    start = datetime.now(UTC) - since if since is not None else None
    try:
        return await store.search_page(f"({query}) AND is_story:true" if stories_only else query,
                                       limit=limit, since=start)
    except QuerySyntaxError as exc:  # a hostile query is quoted shortened: one readable line
        raise WirewatchError(f"bad query {shorten(query, 100)!r}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # a damaged SQLite store: one line and exit 2, not a traceback
        db = getattr(store, "db", None)
        if db is None or not is_damage(exc):
            raise
        raise db.damaged(exc) from None
    finally:
        await store.close()


def _story_column(doc: dict[str, Any]) -> str:
    status = (doc.get("dedupe") or {}).get("status", "?")
    story = doc.get("story_id") or doc.get("id", "")
    return status if story == doc.get("id") else f"{status} of {story}"


def print_hits(hits: list[SearchHit], as_json: bool) -> None:
    """JSON lines with ``--json``; a table on a terminal; tab-separated columns otherwise."""
    if as_json:
        for hit in hits:
            print(json.dumps(hit.document, ensure_ascii=False))
        return
    rows = [
        (hit.published_at, (hit.document.get("source") or {}).get("id", ""),
         hit.document.get("title", ""), _story_column(hit.document))
        for hit in hits
    ]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table("time", "source", "title", "story / verdict")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        for row in rows:
            print("\t".join(" ".join(col.split()) for col in row))


def _limit_hint(total: int) -> str:
    """What to type to see every match (the stores serve at most MAX_WINDOW)."""
    if total <= MAX_WINDOW:
        return f"--limit {total} for all"
    return f"--limit {MAX_WINDOW} for the first {MAX_WINDOW}, or narrow the query"


def cmd_search(args: argparse.Namespace) -> int:
    settings = _settings(args.data_dir)
    page = asyncio.run(_search(settings, args.query, args.since, args.limit, args.stories))
    print_hits(page.hits, args.json)
    if not page.hits:
        print("no matching items", file=sys.stderr)
    elif page.total > len(page.hits):
        print(f"{len(page.hits)} of {page.total} shown; {_limit_hint(page.total)}", file=sys.stderr)
    return 0


def _rule_query(rule_id: str, rules_file: str) -> str:
    """The query of rule ``rule_id`` in ``rules_file``; an unknown id is one line and exit 2."""
    from wirewatch.processors.rules import load_rules

    ids = {rule.id: rule.query for rule in load_rules(Path(rules_file)).rules}
    if rule_id not in ids:
        close = difflib.get_close_matches(rule_id, ids, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else \
            f" (its rules: {', '.join(sorted(ids)[:10])}{', ...' if len(ids) > 10 else ''})"
        raise WirewatchError(f"no rule {rule_id!r} in {rules_file}{hint}; to backtest a query, use --query")
    return ids[rule_id]


def cmd_backtest(args: argparse.Namespace) -> int:
    if (args.rule is None) == (args.query is None):
        raise WirewatchError("give a rule id (with --rules FILE) or --query QUERY, one of the two")
    if args.rule is not None:
        if not args.rules:
            raise WirewatchError(f"rule id {args.rule!r} needs --rules FILE to look it up in; "
                                 f"to backtest a query, use --query {shlex.quote(args.rule)}")
        query, label = _rule_query(args.rule, args.rules), f"rule {args.rule}"
    else:
        query, label = args.query, "query"
    settings = _settings(args.data_dir)
    page = asyncio.run(_search(settings, query, args.since, args.limit, False))
    print_hits(page.hits, args.json)
    stories = {h.document.get("story_id") or h.id for h in page.hits}
    if page.total > len(page.hits):
        print(f"{label} {query!r}: {page.total} item(s) over the last {args.since_text}; {len(page.hits)} "
              f"shown, in {len(stories)} story(ies); {_limit_hint(page.total)}", file=sys.stderr)
    else:
        print(f"{label} {query!r}: {page.total} item(s) in {len(stories)} story(ies) "
              f"over the last {args.since_text}", file=sys.stderr)
    return 0


def _data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="the embedded store's folder (default: WIREWATCH_DATA_DIR or ./.wirewatch); read only, "
                        "never created; unused when WIREWATCH_ELASTICSEARCH_URL is set")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "indexer", help="Kafka processed items and alerts -> Elasticsearch",
        description="Bulk-index processed items and alerts from Kafka into Elasticsearch; "
                    "installs the index templates on start.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  # on the local stack (make stack-up)\n"
                "  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 WIREWATCH_ELASTICSEARCH_URL=http://127.0.0.1:19200 \\\n"
                "    wirewatch indexer\n"
                "  WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 WIREWATCH_ELASTICSEARCH_URL=http://127.0.0.1:19200 \\\n"
                "    WIREWATCH_INDEX_PREFIX=staging WIREWATCH_METRICS_PORT=9103 wirewatch indexer --group staging-indexer\n"),
    )
    p.add_argument("--group", help="consumer group (default <topic prefix>-indexer)")
    p.set_defaults(func=cmd_indexer)

    p = subparsers.add_parser(
        "notifier", help="Kafka alerts -> signed webhooks and mail",
        description="Deliver alerts to the destinations (webhooks, Slack, Teams, Discord, email) named by the rules, once per rule and story.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  DESK_SLACK_SECRET=... WIREWATCH_KAFKA_BOOTSTRAP=127.0.0.1:19092 \\\n"
                "    wirewatch notifier --destinations examples/destinations.yaml\n"),
    )
    p.add_argument("--destinations", required=True, type=Path, metavar="FILE",
                   help="destinations.yaml (name -> url, format, secret_env, ...)")
    p.add_argument("--group", help="consumer group (default <topic prefix>-notifier)")
    p.set_defaults(func=cmd_notifier)

    p = subparsers.add_parser(
        "search", help="run a Lucene query against the store",
        description="Search stored items with a Lucene query (Elasticsearch when "
                    "WIREWATCH_ELASTICSEARCH_URL is set, else the embedded SQLite store).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  wirewatch search '\"arrest warrant\" AND (Putin OR ICC)' --since 24h\n"
                "  wirewatch search 'entity:\"Volodymyr Zelensky\" AND title:drone*' --limit 50 --stories\n"
                "  wirewatch search 'source.id:reuters -sport' --json | jq .title\n"
                "  wirewatch search 'officials AND published_at:[now-1h TO now]' --data-dir ~/wirewatch-data\n"
                "  wirewatch search 'story_id:\"meridian-wire:mw-1001\"'\n"
                "\nfields: title body source tags entity (a whole name) search.entity (words in names)\n"
                "  source.id source.name language entities.type story_id is_story dedupe.status revision\n"
                "  published_at updated_at fetched_at processed_at ([now-1d TO now], {a TO b}, * open, >now-1h)\n"),
    )
    p.add_argument("query", metavar="QUERY", help='Lucene query string, e.g. \'"arrest warrant" AND Putin\'')
    p.add_argument("--since", type=_duration, default=None, metavar="DURATION",
                   help="only items published in this window, e.g. 24h, 7d (default: all)")
    p.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N results (20)")
    p.add_argument("--stories", action="store_true", help="one row per story (first items only)")
    p.add_argument("--json", action="store_true", help="JSON lines (the stored documents)")
    _data_dir_option(p)
    p.set_defaults(func=cmd_search)

    rules = subparsers.add_parser("rules", help="alert rules tools")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    p = rules_sub.add_parser(
        "backtest", help="what a rule (or query) would have matched in history",
        description="Run a rule's query (RULE_ID with --rules) or any query (--query) over stored history, "
                    "as the stream would have matched it. An unknown rule id is an error (exit 2), never a query.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("examples:\n"
                "  wirewatch rules backtest icc-warrant --rules examples/rules.yaml --since 7d\n"
                "  wirewatch rules backtest --query '\"rate cut\" AND ECB' --since 30d --limit 20\n"),
    )
    p.add_argument("rule", nargs="?", metavar="RULE_ID", help="a rule id from --rules")
    p.add_argument("--rules", metavar="FILE", help="rules.yaml to look RULE_ID up in")
    p.add_argument("--query", metavar="QUERY", help="backtest this Lucene query instead of a rule")
    p.add_argument("--since", default="7d", metavar="DURATION", help="history window (7d)")
    p.add_argument("--limit", type=_positive, default=100, metavar="N", help="at most N items (100)")
    p.add_argument("--json", action="store_true", help="JSON lines (the stored documents)")
    _data_dir_option(p)
    p.set_defaults(func=_backtest_entry)


def _backtest_entry(args: argparse.Namespace) -> int:
    args.since_text = args.since
    try:
        args.since = parse_duration(args.since)
    except ValueError as exc:
        raise ConfigError("--since", str(exc)) from None
    return cmd_backtest(args)
