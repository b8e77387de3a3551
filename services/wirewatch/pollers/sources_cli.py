"""``wirewatch sources import|export|discover|check``: sources managed the way feed readers do."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wirewatch.core.config import load_settings
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import configure_logging
from wirewatch.pollers.config import FetchSettings, Source, load_sources

if TYPE_CHECKING:
    from wirewatch.pollers.check import CheckRow
    from wirewatch.pollers.http import SourceFetch

EXAMPLES = """\
examples:
  # a feed reader's OPML export -> sources.yaml
  wirewatch sources import examples/subscriptions.opml > imported.yaml
  # sources.yaml -> OPML 2.0 for a feed reader
  wirewatch sources export --config sources.yaml > sources.opml
  # the feeds a site advertises, and its common feed paths that answer with a feed
  wirewatch sources discover https://www.theguardian.com/world
  # poll each source once (nothing saved) and print a status table
  wirewatch sources check --config sources.yaml

exit status: import/export/discover 0 on success (discover: 1 when no feed was
found); check 0 when every source is ok, 1 when any failed; 2 for unusable input
(broken OPML, unreadable config, a URL that is no HTML page or cannot be fetched).
"""

#: Discovery asks one host for at most 8 URLs in one run: a shorter gap than polling's default 1 s.
DISCOVER_HOST_DELAY = timedelta(seconds=0.25)
ERROR_CHARS = 160

def register(subparsers: Any) -> None:
    """Add ``sources`` and its four subcommands to the ``wirewatch`` command."""
    sources = subparsers.add_parser(
        "sources",
        help="import/export OPML, discover a site's feeds, check every source once",
        description="Manage sources.yaml: import or export OPML, discover feeds, check sources.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = sources.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import",
        help="OPML file -> sources.yaml on stdout",
        description="Write a sources.yaml to stdout: one source per outline with an xmlUrl (any "
        "depth), ids from titles (the host when there is none), folders and categories as tags.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.opml")
    imp.set_defaults(func=run_import, command="sources import")  # errors read "wirewatch sources import: error: ..."
    exp = actions.add_parser(
        "export",
        help="sources.yaml -> OPML 2.0 on stdout",
        description="Write the config's feeds as OPML 2.0 to stdout (first tag as folder, all tags "
        "as categories). Live-blog sources are left out (OPML lists feeds), with one line on stderr.",
    )
    exp.add_argument("--config", required=True, type=Path, metavar="FILE", help="sources.yaml")
    exp.set_defaults(func=run_export, command="sources export")  # errors read "wirewatch sources export: error: ..."
    disc = actions.add_parser(
        "discover",
        help="print the feed URLs a web page advertises or its site serves",
        description="Fetch a page and print, one a line, the feeds it advertises "
        '(<link rel="alternate"> RSS/Atom/JSON Feed) and the common feed paths of its site '
        "(" + ", ".join(_common_paths()) + ") that answer with a feed.",
    )
    disc.add_argument("url", metavar="URL")
    disc.add_argument("--config", type=Path, metavar="FILE",
                      help="sources.yaml: its fetch: limits, and with --source that source's settings")
    disc.add_argument("--source", metavar="ID",
                      help="fetch with this source's user_agent, proxy, headers, cookies (needs --config)")
    disc.add_argument("--proxy", metavar="URL", help="http(s)://host:port proxy for every request")
    disc.add_argument("--user-agent", metavar="TEXT", help="User-Agent for every request")
    disc.set_defaults(func=run_discover, command="sources discover")  # errors read "wirewatch sources discover: error: ..."
    check = actions.add_parser(
        "check",
        help="poll each source once (no state saved) and print a status table",
        description="Poll every source once through the poller, save nothing, and print one row "
        "per source: id, status, items, last item time, error. Exit 0 when all are ok, else 1.",
    )
    check.add_argument("--config", required=True, type=Path, metavar="FILE", help="sources.yaml")
    check.set_defaults(func=run_check, command="sources check")  # errors read "wirewatch sources check: error: ..."


def _common_paths() -> tuple[str, ...]:
    from wirewatch.pollers.discover import COMMON_PATHS

    return COMMON_PATHS


# --- import / export --------------------------------------------------------------------------


def run_import(args: argparse.Namespace) -> int:
    from wirewatch.pollers.opml import OpmlError, import_opml, sources_yaml

    try:
        content = args.file.read_bytes()
    except OSError as exc:
        raise OpmlError(f"cannot read {args.file}: {exc.strerror}") from None
    imported = import_opml(content, str(args.file))
    for line in imported.skipped:
        print(f"wirewatch sources import: {line}", file=sys.stderr)
    sys.stdout.write(sources_yaml(imported, args.file.name))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from wirewatch.pollers.opml import export_opml, lost_tags

    config = load_sources(args.config)
    feeds = []
    for source in config.sources:
        if source.kind == "liveblog":
            print(f"wirewatch sources export: left out {source.id}: a live blog page, not a feed", file=sys.stderr)
            continue
        for tag in lost_tags(source):
            print(f"wirewatch sources export: {source.id}: tag {tag!r} left out (OPML categories cannot hold '/' or ',')", file=sys.stderr)
        feeds.append(source)
    sys.stdout.write(export_opml(feeds))
    return 0


# --- discover -----------------------------------------------------------------------------------


def run_discover(args: argparse.Namespace) -> int:
    from wirewatch.pollers.discover import discover
    from wirewatch.pollers.poller import make_fetcher

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    fetch, source_fetch = discover_settings(args)

    async def main() -> list[str]:
        async with make_fetcher(fetch, settings.user_agent) as fetcher:
            return (await discover(fetcher, args.url, source_fetch)).all

    found = asyncio.run(main())
    for url in found:
        print(url)
    if not found:
        print(f"wirewatch sources discover: no feed found at {args.url}", file=sys.stderr)
        return 1
    return 0


def discover_settings(args: argparse.Namespace) -> tuple[FetchSettings, SourceFetch]:
    """The fetcher limits and per-request settings ``discover`` uses; :class:`ConfigError` when
    the flags are unusable.

    ``--config`` gives the config's ``fetch:`` limits (requests stay 0.25 s apart);
    ``--source`` that source's settings, its headers and cookies only when the URL is on the
    source's own host (as for article pages); ``--proxy``/``--user-agent`` win over both.
    """
    from wirewatch.pollers.fulltext import link_settings
    from wirewatch.pollers.http import NO_SETTINGS

    fetch = FetchSettings(min_host_delay=DISCOVER_HOST_DELAY)
    source_fetch = NO_SETTINGS
    if args.source is not None and args.config is None:
        raise ConfigError("--source", "needs --config FILE (the sources.yaml that holds it)")
    if args.config is not None:
        config = load_sources(args.config)
        fetch = config.fetch.model_copy(update={"min_host_delay": DISCOVER_HOST_DELAY})
        if args.source is not None:
            found = {source.id: source for source in config.sources}
            if args.source not in found:
                known = ", ".join(found)
                raise ConfigError(str(args.config), f"no source {args.source!r} (sources: {known})")
            source = found[args.source]
            source_fetch = link_settings(source.fetch_settings, source.url, args.url)
    try:
        if args.proxy is not None:
            source_fetch = replace(source_fetch, proxy=Source._proxy_url(args.proxy))
    except ValueError as exc:  # the validators of sources.yaml: the same rules, the same words
        raise ConfigError("--proxy", str(exc)) from None
    try:
        if args.user_agent is not None:
            source_fetch = replace(source_fetch, user_agent=Source._user_agent(args.user_agent))
    except ValueError as exc:
        raise ConfigError("--user-agent", str(exc)) from None
    return fetch, source_fetch


# --- check --------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    from wirewatch.pollers.check import check_sources

    settings = load_settings()
    # The table reports every failure; the poller's own per-source log lines would repeat them.
    configure_logging("error", settings.log_format)
    config = load_sources(args.config)
    rows = asyncio.run(check_sources(config, settings))
    sys.stdout.write(format_table(rows))
    return 0 if all(row.status == "ok" for row in rows) else 1


def one_line(text: str, limit: int = ERROR_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_table(rows: list[CheckRow]) -> str:
    """Aligned plain-text columns (greppable, no box drawing); ``-`` for an empty cell."""
    header = ("ID", "STATUS", "ITEMS", "LAST ITEM", "ERROR")
    cells = [header] + [
        (r.source_id, r.status, str(r.items), r.last_item or "-", one_line(r.error) or "-") for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"
