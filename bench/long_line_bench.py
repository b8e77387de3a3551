"""``process.long_line``: ``wirewatch process`` reads a long line in time linear in its length.

One raw item whose ``revision`` is a string of N MB (a schema error: read, parsed,
validated, dead-lettered with the whole line) for N = 5, 10, 20 and 40. The value is the
CPU seconds per MB at 40 MB, the floor the same at 5 MB; the CPU of the same item with a
one-digit string (start-up, the first warning's imports) is taken off both. A ratio near 1
is linear, 8 would be quadratic. Before the fix (``rest + chunk`` at every 64 KB read) the
four lines took 0.45/0.92/2.82/10.04 CPU-s in all (ratio 6.8); after it 0.29/0.31/0.39/0.54
(ratio 0.92; 2026-12-04, shared 2-core machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.common import Context, Result, children_cpu, timed_pipe, wirewatch_cmd

SIZES_MB = (5, 10, 20, 40)
REPEATS = 2
TIMEOUT = 300
RULES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "processors" / "rules.yaml"


def _line_file(ctx: Context, megabytes: int) -> Path:
    path = ctx.data_dir / f"long-line-{megabytes}mb.jsonl"
    if not path.exists():
        item = {"id": "long", "source": {"id": "bench"}, "url": "https://bench.example/long", "title": "t",
                "body": "b", "published_at": "2026-01-01T00:00:00Z", "revision": "9" * max(megabytes << 20, 1)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(item) + "\n", "utf-8")
    return path


def _cpu(ctx: Context, stdin: Path) -> float:
    """Fewest CPU seconds of ``wirewatch process`` over ``stdin`` in REPEATS runs."""
    cmd = [*wirewatch_cmd(), "process", "--rules", str(RULES), "--ner", "off",
           "--max-line-bytes", str(64 << 20), "--dead-letters", os.devnull]
    best = float("inf")
    for _ in range(REPEATS):
        before = children_cpu()
        _, proc = timed_pipe(cmd, stdin, Path(os.devnull), TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"wirewatch process failed: {proc.stderr.decode()[-300:]}")
        best = min(best, children_cpu() - before)
    return best


def run(ctx: Context) -> list[Result]:
    start = _cpu(ctx, _line_file(ctx, 0))
    seconds = {mb: max(_cpu(ctx, _line_file(ctx, mb)) - start, 1e-6) for mb in SIZES_MB}
    per_mb = {mb: s / mb for mb, s in seconds.items()}
    top, low = SIZES_MB[-1], SIZES_MB[0]
    return [Result(
        "process.long_line", per_mb[top], "CPU-s/MB", floor=per_mb[low],
        notes=f"one line of {top} MB vs {low} MB (a short line's {start:.2f} s taken off); ratio 1 = linear, "
              f"{top // low} = quadratic",
        extra={"cpu_s_by_mb": {str(mb): round(s, 3) for mb, s in seconds.items()}, "short_line_cpu_s": round(start, 3)},
    )]
