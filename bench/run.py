"""``make bench``: every benchmark, each against its floor or peer measured in the same run.

Writes ``bench/out/results.json`` (a list of ``{name, value, unit, floor,
ratio, notes}``) and prints a short table. A step that fails or whose
component is missing is recorded with ``value: null`` and the reason; the
suite goes on. ``--only NAME`` (repeatable, or a prefix such as ``alert``)
runs a subset; ``--profile`` also writes a cProfile of ``wirewatch process``;
``--busy N`` keeps N busy-loop processes running for the whole run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import wirewatch
from bench import (
    fulltext_bench,
    hostile_bench,
    language,
    long_line_bench,
    poller_bench,
    processor_bench,
    rules_bench,
    search_page_bench,
    stream_bench,
)
from bench.common import OUT, Context, Result, busy_load, missing
from wirewatch.core.logging import configure_logging

Step = Callable[[Context], list[Result]]
Metrics = tuple[tuple[str, str], ...]  # (name, unit) of each metric a step produces

#: In run order: the metrics a step produces, and the step.
STEPS: list[tuple[Metrics, Step]] = [
    ((("rules.vs_lucene_monitor", "items/s"),), rules_bench.run),
    ((("rules.startup_s_100k", "s"),), rules_bench.run_startup),
    (((hostile_bench.NAME, "ms"),), hostile_bench.run),
    ((("processor.items_per_s", "items/s"), ("processor.cpu_ms_per_item", "ms/item"),
      ("processor.dedupe_agreement", "share"), ("processor.ner_items_per_s", "items/s")), processor_bench.run),
    ((("process.long_line", "CPU-s/MB"),), long_line_bench.run),
    ((("language.us_per_item", "µs/item"),), language.run),
    ((("poller.feeds_per_s", "feeds/s"),), poller_bench.run),
    ((("fulltext.items_per_s", "items/s"), ("fulltext.recheck_ms_per_page", "ms")), fulltext_bench.run),
    (((search_page_bench.NAME, "ms"),), search_page_bench.run),
    ((("e2e.items_per_s", "items/s"), ("e2e.processor_cpu_ms_per_item", "ms/item")), stream_bench.run_e2e),
    ((("alert.latency_ms_p50", "ms"), ("alert.latency_ms_p99", "ms")), stream_bench.run_latency),
    ((("alert.latency_ms_p99_1000", "ms"),), stream_bench.run_latency_1000),
    ((("scale.workers_2_vs_1", "ratio"),), stream_bench.run_scale),
]
NAMES = [n for metrics, _ in STEPS for n, _ in metrics]
#: The busy-load processes stop by themselves after this long, should the suite outlive it.
BUSY_SECONDS = 3600.0


def _matches(name: str, only: str) -> bool:
    """An exact name selects that metric alone (``alert.latency_ms_p99`` is not ``..._p99_1000``)."""
    return name == only if only in NAMES else name.startswith(only)


def _selected(only: list[str] | None) -> list[tuple[Metrics, Step]]:
    if not only:
        return STEPS
    unknown = [o for o in only if not any(n.startswith(o) for n in NAMES)]
    if unknown:
        raise SystemExit(f"bench: unknown metric {', '.join(unknown)} (known: {', '.join(NAMES)})")
    return [s for s in STEPS if any(_matches(n, o) for n, _ in s[0] for o in only)]


def _run_step(ctx: Context, metrics: Metrics, step: Step) -> list[Result]:
    try:
        return step(ctx)
    except Exception as exc:  # one broken step must not cost the others
        (ctx.out / "logs").mkdir(parents=True, exist_ok=True)
        (ctx.out / "logs" / f"{metrics[0][0]}.traceback").write_text(traceback.format_exc(), "utf-8")
        why = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]} (traceback in bench/out/logs)"
        return [missing(n, unit, why) for n, unit in metrics]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def print_table(results: list[Result], busy: int) -> None:
    print(f"\nbench results, busy={busy} ({busy} busy-loop processes on {os.cpu_count()} cores)")
    rows = [("metric", "value", "unit", "floor/peer", "ratio")]
    rows += [(r.name, _fmt(r.value), r.unit, _fmt(r.floor), _fmt(r.ratio)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j in (0, 2) else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in results:
        if r.value is None:
            print(f"  {r.name}: not measured: {r.notes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only this metric (or prefix); repeatable. Known: {', '.join(NAMES)}")
    parser.add_argument("--items", type=int, default=20000, help="items in the data set (20000)")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (bench/out)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile `wirewatch process --ner off` (bench/out/profile-process.txt)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="run N busy-loop processes beside the whole suite (a busy machine); 0")
    args = parser.parse_args(argv)
    if args.busy < 0:
        parser.error("--busy must be >= 0")
    steps = _selected(args.only)
    ctx = Context(items_count=args.items, out=args.out, busy=args.busy,
                  kafka=os.environ.get("WIREWATCH_TEST_KAFKA"),
                  elasticsearch=os.environ.get("WIREWATCH_TEST_ELASTICSEARCH"))
    signal.signal(signal.SIGTERM, _exit_on_term)  # so the busy load is killed on TERM too, not only on ^C
    with busy_load(args.busy, BUSY_SECONDS):
        return _run(ctx, steps, args.profile)


def _exit_on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _run(ctx: Context, steps: list[tuple[Metrics, Step]], profile: bool) -> int:
    """Every selected step in order; ``results.json`` rewritten after each."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    configure_logging("warning")  # the library's info lines (templates installed, ...) are noise here
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries right after topic creation are normal
    ctx.ensure_data()
    # bytecode as a pip-installed wheel has it: an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile every wirewatch module at each start (~60 ms)
    compileall.compile_dir(str(Path(wirewatch.__file__).parent), quiet=1)
    results: list[Result] = []
    started = time.monotonic()
    for metrics, step in steps:
        t0 = time.monotonic()
        print(f"bench: {', '.join(n for n, _ in metrics)} ...", file=sys.stderr, flush=True)
        got = _run_step(ctx, metrics, step)
        for r in got:
            r.extra.setdefault("step_seconds", round(time.monotonic() - t0, 1))
            r.extra["busy"] = ctx.busy
            ctx.measured[r.name] = r
        results.extend(got)
        (ctx.out / "results.json").write_text(
            json.dumps([r.as_json() for r in results], indent=2, ensure_ascii=False) + "\n", "utf-8")
    if profile:
        print("bench: profiling wirewatch process ...", file=sys.stderr, flush=True)
        try:
            report = processor_bench.profile(ctx)
            print("\n".join(report.splitlines()[:40]))
        except Exception as exc:
            print(f"bench: profile failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    print_table(results, ctx.busy)
    print(f"\n{len(results)} metrics in {time.monotonic() - started:.0f}s -> {ctx.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
