"""The ``wirewatch`` command: one subcommand per service, each defined by its package.

Entry points, in pipeline order:

* ``poll`` / ``poller``         -> :mod:`wirewatch.pollers.cli`
* ``sources``                   -> :mod:`wirewatch.pollers.sources_cli`
* ``process`` / ``processor``   -> :mod:`wirewatch.processors.cli`
* ``indexer`` / ``notifier`` / ``search`` / ``rules`` -> :mod:`wirewatch.sinks.cli`
* ``run``                       -> :mod:`wirewatch.embedded.cli`
* ``deadletters``               -> :mod:`wirewatch.sinks.deadletters`
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from wirewatch import __version__
from wirewatch.core.errors import WirewatchError

# numpy's OpenBLAS starts a worker thread per core that spins while it waits for work. Wirewatch
# does no linear algebra (elementwise numpy only), so those threads only take CPU from the
# process itself, most of all when it is pinned to one core (cachegrind: 30-70M instructions
# of spinning in a 3,000-item `process` run). Set before any service imports numpy.
# one BLAS thread: 30-70M instructions less a 3,000-item run; no output to disagree (tests/processors/test_process_cli.py runs the command)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Each module exposes ``register(subparsers)`` adding its subcommands, each
# subparser carrying ``func(args) -> int`` via ``set_defaults``.
#: subcommand -> the module registering it, so that running one command imports only its
#: module (the others pull in asyncio, aiohttp, ...: ~30 ms of every ``wirewatch process``
#: start). Help, errors and unknown words build the whole parser.
# only the running command's module: ~30 ms of every start; tests/foundation/test_cli_help.py::test_each_command_is_found_in_the_module_that_registers_it
COMMAND_MODULES = {
    "poll": "wirewatch.pollers.cli",
    "poller": "wirewatch.pollers.cli",
    "sources": "wirewatch.pollers.sources_cli",
    "process": "wirewatch.processors.cli",
    "processor": "wirewatch.processors.cli",
    "indexer": "wirewatch.sinks.cli",
    "notifier": "wirewatch.sinks.cli",
    "search": "wirewatch.sinks.cli",
    "rules": "wirewatch.sinks.cli",
    "run": "wirewatch.embedded.cli",
    "deadletters": "wirewatch.sinks.deadletters",
}
#: every service's module, once, in pipeline order (the order of the help's command list)
SERVICE_MODULES = tuple(dict.fromkeys(COMMAND_MODULES.values()))

def build_parser(modules: Sequence[str] = SERVICE_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirewatch",
        description="Event-streaming news monitoring: poll feeds, dedupe, tag entities, alert, index.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  wirewatch run --config sources.yaml --rules rules.yaml\n"
            "  wirewatch poll --once --config sources.yaml --state .wirewatch/state\n"
            "  wirewatch process --rules rules.yaml --ner off < raw.jsonl > processed.jsonl\n"
            "  wirewatch search '\"arrest warrant\" AND Putin' --since 24h\n"
            "\nsettings come from WIREWATCH_* environment variables (see README)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; config mistakes end as one line on stderr and exit 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    module = COMMAND_MODULES.get(argv[0]) if argv else None
    parser = build_parser((module,) if module else SERVICE_MODULES)
    args = parser.parse_args(argv)
    func: Callable[[Any], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except WirewatchError as exc:
        print(f"wirewatch {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"wirewatch {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
