"""``rules.vs_lucene_monitor``: our indexed matcher against Lucene Monitor, same rules, same items;
``rules.startup_s_100k``: start-up of ``wirewatch process`` with 100,000 rules.

Both sides get the same normalised text: Lucene gets
:func:`~wirewatch.search.analysis.search_fields` (its StandardAnalyzer
re-tokenises that text identically) and each rule rendered by
:func:`~wirewatch.search.query.to_query_string`, parsed by the classic
MultiFieldQueryParser over ``search.title`` and ``search.body`` with default
OR (as Elasticsearch's ``query_string``). Both run single-threaded on one
core, after a warm-up pass; our timing includes ``prepare(item)``
(normalisation), as Lucene's includes analysis of the document.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import REPO, Context, Result, last_line, missing, pin_one_core, wirewatch_cmd

NAME = "rules.vs_lucene_monitor"
HARNESS = REPO / "bench" / "lucene-monitor"
JAR = HARNESS / "target" / "lucene-monitor-bench.jar"
#: Items matched by both sides (all rules); the naive matcher gets fewer.
MATCH_ITEMS = 10000
NAIVE_ITEMS = 500


def _clean(value: str) -> str:
    return " ".join(value.replace("\x1f", " ").split())


def build_harness(timeout: float = 420) -> str | None:
    """Build the shaded jar once (cached in target/); returns why not, or None."""
    if JAR.exists() and JAR.stat().st_mtime >= max(
        p.stat().st_mtime for p in [*HARNESS.rglob("*.java"), HARNESS / "pom.xml"]
    ):
        return None
    if not shutil.which("mvn") or not shutil.which("java"):
        return "mvn or java not installed"
    proc = subprocess.run(["mvn", "-q", "-B", "package"], cwd=HARNESS, capture_output=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0 or not JAR.exists():
        return f"maven build failed: {last_line(proc.stdout + proc.stderr)}"
    return None


def write_inputs(workdir: Path, rules: list[Any], items: list[dict[str, Any]]) -> tuple[Path, Path]:
    """Rules as ``id<TAB>query string``, items as a TSV of their ``search.*`` fields."""
    from wirewatch.search.analysis import search_fields
    from wirewatch.search.query import parse, to_query_string

    workdir.mkdir(parents=True, exist_ok=True)
    rules_tsv = workdir / "rules.tsv"
    with rules_tsv.open("w", encoding="utf-8") as fh:
        for rule in rules:
            fh.write(f"{rule.id}\t{_clean(to_query_string(parse(rule.query)))}\n")
    names = ("title", "body", "source", "entity", "tags", "language")
    items_tsv = workdir / "items.tsv"
    with items_tsv.open("w", encoding="utf-8") as fh:
        fh.write("id\t" + "\t".join(f"search.{n}" for n in names) + "\n")
        for item in items:
            fields = search_fields(item)
            cols = [item["id"]]
            for n in names:
                value = fields[n]
                values = value if isinstance(value, list) else [value]
                cols.append("\x1f".join(_clean(v) for v in values))
            fh.write("\t".join(cols) + "\n")
    return rules_tsv, items_tsv


def run_lucene(rules_tsv: Path, items_tsv: Path, out: Path,
               timeout: float = 300) -> tuple[dict[str, str], list[set[str]], list[str]]:
    """Run the harness; returns its stats, the match sets in item order and its parse errors.

    Sets are kept by position, not id: live-blog revisions share an id.
    """
    cmd = [*pin_one_core(), "java", "-Xmx1g", "-jar", str(JAR), "--rules", str(rules_tsv),
           "--items", str(items_tsv), "--out", str(out), "--warmup", "1", "--passes", "2"]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"lucene harness failed: {last_line(proc.stderr)}")
    stats: dict[str, str] = {}
    matches: list[set[str]] = []
    errors: list[str] = []
    for line in out.read_text("utf-8").splitlines():
        if line.startswith("#stats "):
            stats = dict(kv.split("=", 1) for kv in line[7:].split())
        elif line.startswith("#parse_error "):
            errors.append(line[13:])
        elif line:
            _item_id, _, hits = line.partition("\t")
            matches.append(set(hits.split()))
    return stats, matches, errors


def _rate(fn: Any, docs: list[Any], passes: int = 2) -> tuple[float, float, list[set[str]]]:
    """Best-of-``passes`` items/s of ``fn`` over ``docs`` (by thread CPU time, then wall) and its match sets."""
    best = best_cpu = float("inf")
    found: list[set[str]] = []
    for _ in range(passes):
        start, cpu_start = time.perf_counter(), time.thread_time()
        found = [{r.id for r in fn(d)} for d in docs]
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.thread_time() - cpu_start)
    return len(docs) / best_cpu, len(docs) / best, found


def run(ctx: Context) -> list[Result]:
    try:
        from wirewatch.processors.rules import Rule, RuleSet
        from wirewatch.search.matcher import prepare
    except ImportError as exc:
        return [missing(NAME, "ratio", f"wirewatch.processors.rules not available: {exc}")]
    why = build_harness()
    if why:
        return [missing(NAME, "ratio", why)]
    rules = [Rule(id=r["id"], query=r["query"]) for r in ctx.rules()]
    items = ctx.items(MATCH_ITEMS)
    workdir = ctx.out / "lucene"
    rules_tsv, items_tsv = write_inputs(workdir, rules, items)
    stats, lucene, parse_errors = run_lucene(rules_tsv, items_tsv, workdir / "matches.tsv")
    lucene_rate, lucene_wall = float(stats["cpu_items_per_s"]), float(stats["items_per_s"])

    ruleset = RuleSet.from_rules(rules)
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if affinity is not None:
        os.sched_setaffinity(0, {min(affinity)})  # single core, like the Java side
    try:
        docs = list(items)
        for item in docs[:1000]:  # warm-up: lazy caches, bytecode specialisation
            ruleset.match(prepare(item))
        ours_rate, ours_wall, ours = _rate(lambda item: ruleset.match(prepare(item)), docs)
        naive_docs = [prepare(item) for item in docs[:NAIVE_ITEMS]]
        indexed_docs = naive_docs
        naive_rate, _, naive = _rate(ruleset.match_naive, naive_docs, passes=1)
        _, _, indexed_small = _rate(ruleset.match, indexed_docs, passes=1)
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)

    queries = {r.id: r.query for r in rules}
    disagreements: list[str] = []
    count = 0
    for item, mine, theirs in zip(items, ours, lucene, strict=True):
        for rule_id in sorted(mine ^ theirs):
            count += 1
            if len(disagreements) < 5:
                who = "ours only" if rule_id in mine else "lucene only"
                disagreements.append(f"{item['id']} {rule_id} [{queries[rule_id]}] {who}")
    naive_diff = sum(len(a ^ b) for a, b in zip(naive, indexed_small, strict=True))
    matched_items = sum(1 for m in ours if m)
    total_matches = sum(len(m) for m in ours)
    notes = (
        f"{len(items)} items x {len(rules)} rules, one thread each, items per CPU-second of the matching "
        f"thread (shared machine); ours {ours_rate:.0f} vs Lucene Monitor {lucene_rate:.0f} "
        f"(wall clock: {ours_wall:.0f} vs {lucene_wall:.0f} items/s) "
        f"(lucene-monitor 9.11.1, TermFilteredPresearcher); "
        f"match-set disagreements: {count}"
        + (f" e.g. {'; '.join(disagreements)}" if disagreements else "")
        + f"; lucene parse errors: {len(parse_errors)}"
        + (f" e.g. {parse_errors[0]}" if parse_errors else "")
        + f"; items matching >=1 rule: {matched_items / len(items):.0%}, {total_matches / len(items):.2f} matches/item"
        + f"; naive every-rule matcher {naive_rate:.0f} items/CPU-s over {len(naive_docs)} prepared items "
        f"(indexed incl. prepare is {ours_rate / naive_rate if naive_rate else 0:.1f}x faster), "
        f"naive vs indexed disagreements: {naive_diff}"
    )
    return [
        Result(NAME, ours_rate, "items/CPU-s", floor=lucene_rate, notes=notes,
               extra={"disagreements": count, "disagreement_examples": disagreements,
                      "naive_items_per_s": round(naive_rate, 1), "lucene_parse_errors": len(parse_errors),
                      "wall_items_per_s": round(ours_wall, 1), "lucene_wall_items_per_s": round(lucene_wall, 1),
                      "target_ratio": 0.5}),
    ]


# ------------------------------------------------------------------ start-up

STARTUP_NAME = "rules.startup_s_100k"
STARTUP_RULES = 100_000
#: Items piped through each start-up run, so the rules are compiled and really used.
STARTUP_ITEMS = 20
STARTUP_RUNS = 3


#: Runs the command and writes its own wall s, CPU s, peak RSS KB and exit code to argv[1]. A small
#: intermediary because a child's ``ru_maxrss`` starts at its parent's RSS at fork time (Linux), and
#: the bench process holds the data set: measured directly, a 1,000-rule run showed 241 MB, not ~80.
_WRAPPER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as fh:
    json.dump([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)], fh)
"""


def _startup_run(rules: Path, items: Path, out: Path, timeout: float = 300) -> tuple[float, float, float]:
    """One ``wirewatch process --rules RULES --ner off < items``: wall s, CPU s, peak RSS MB.

    Not pinned to a core: start-up is one thread, and a pinned run only measures who else is on that core.
    """
    cmd = [*wirewatch_cmd(), "process", "--rules", str(rules), "--ner", "off"]
    env = {**os.environ, "WIREWATCH_LOG_LEVEL": "warning"}
    usage = out.with_suffix(".usage.json")
    usage.unlink(missing_ok=True)
    with items.open("rb") as fin, out.open("wb") as fout:
        # own session: a timeout kills the wrapper and the wirewatch child it waits for
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(usage), *cmd], stdin=fin, stdout=fout,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    if proc.returncode != 0 or not usage.exists():
        raise RuntimeError(f"start-up wrapper failed: {last_line(stderr)}")
    wall, cpu, maxrss_kb, code = json.loads(usage.read_text("utf-8"))
    if code != 0:
        raise RuntimeError(f"wirewatch process exited {code}: {last_line(stderr)}")
    lines = out.read_bytes().count(b"\n")
    if lines != STARTUP_ITEMS:
        raise RuntimeError(f"wirewatch process wrote {lines} lines for {STARTUP_ITEMS} items")
    return float(wall), float(cpu), maxrss_kb / 1024


def run_startup(ctx: Context) -> list[Result]:
    """Start-up of ``wirewatch process`` with 100,000 rules against the same with the 1,000 bench rules.

    Runs alternate (big, peer) so both meet the same neighbours; the best wall time of each is kept.
    """
    big = replace(ctx, rules_count=STARTUP_RULES)
    big.ensure_data()  # the seeded generator's first 100,000 unique rules (the first 1,000 are ctx's)
    workdir = ctx.out / "startup"
    workdir.mkdir(parents=True, exist_ok=True)
    items = workdir / "items.jsonl"
    with ctx.items_path.open("rb") as fh:
        items.write_bytes(b"".join(line for _, line in zip(range(STARTUP_ITEMS), fh, strict=False)))
    runs: dict[str, list[tuple[float, float, float]]] = {"big": [], "peer": []}
    for _ in range(STARTUP_RUNS):
        runs["big"].append(_startup_run(big.rules_path, items, workdir / "out-100k.jsonl"))
        runs["peer"].append(_startup_run(ctx.rules_path, items, workdir / "out-1k.jsonl"))
    alerts = {name: sum(len(json.loads(line)["alerts"]) for line in (workdir / f"out-{name}.jsonl").open("rb"))
              for name in ("100k", "1k")}
    wall, cpu, _ = min(runs["big"])
    peer_wall, peer_cpu, _ = min(runs["peer"])
    rss = max(r[2] for r in runs["big"])
    peer_rss = max(r[2] for r in runs["peer"])

    def fmt(rs: list[tuple[float, float, float]]) -> str:
        return ", ".join(f"{w:.2f}s/{c:.2f}cpu/{m:.0f}MB" for w, c, m in rs)

    notes = (
        f"`wirewatch process --rules <{STARTUP_RULES} rules> --ner off` < {STARTUP_ITEMS} items, not pinned, "
        f"best wall of {STARTUP_RUNS} (CPU {cpu:.2f} s), peak RSS {rss:.0f} MB; peer: the same command with the "
        f"{ctx.rules_count} bench rules, best {peer_wall:.2f} s (CPU {peer_cpu:.2f} s), {peer_rss:.0f} MB. "
        f"All runs (wall/CPU/RSS): 100k [{fmt(runs['big'])}], 1k [{fmt(runs['peer'])}]. "
        f"Alerts on the {STARTUP_ITEMS} items: {alerts['100k']} with 100k rules, {alerts['1k']} with 1k. "
        "Target < 5 s, < 300 MB."
    )
    return [Result(STARTUP_NAME, wall, "s", floor=peer_wall, notes=notes,
                   extra={"rss_mb": round(rss, 1), "cpu_s": round(cpu, 2), "peer_rss_mb": round(peer_rss, 1),
                          "peer_cpu_s": round(peer_cpu, 2), "rules": STARTUP_RULES, "items": STARTUP_ITEMS,
                          "alerts": alerts["100k"], "peer_alerts": alerts["1k"],
                          "target_s": 5.0, "target_rss_mb": 300})]
