"""The Kafka path: ``e2e.items_per_s`` and ``e2e.processor_cpu_ms_per_item``,
``scale.workers_2_vs_1``, ``alert.latency_ms_p50/p99`` (200 items/s) and ``alert.latency_ms_p99_1000``.

Each measurement starts real ``wirewatch`` services (Faust processor, indexer,
notifier) as subprocesses on a topic/index prefix of its own, feeds them
generated raw items through the same Kafka publisher the pollers use, and
stops them afterwards. Throughputs are taken over the steady window (10% ->
90% of the items) so that worker start-up and rebalancing are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import processor_bench
from bench.common import Context, Result, Service, chunks, missing, service_env

E2E_ITEMS = 20000  # the worker handles ~2,000 items/s: 4,000 finished between two samples
SCALE_ITEMS = 20000  # a batched worker finished 4,000 between two samples
#: A steady window longer than this ends the measurement early (rate so far; the note says so).
MAX_WINDOW = 60.0
LATENCY_RATE = 200  # items/s of alert.latency_ms_p50/_p99
FAST_LATENCY_RATE = 1000  # items/s of alert.latency_ms_p99_1000
LATENCY_SECONDS = 30  # or fewer, when the data set has fewer items than rate x seconds
WARM_ITEMS = 200
LATENCY_TARGET_MS = 1000  # p99, at both rates
#: The Faust path may cost at most this many times the core's CPU per item.
CPU_RATIO_TARGET = 2.0
E2E_RATIO_TARGET = 0.8
STALL_SECONDS = 45.0  # no progress for this long ends a wait (the result says so)
START_TIMEOUT = 120.0


def _have(module: str) -> str | None:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{module} not available: {exc}"
    return None


async def _create_topics(ctx: Context, prefix: str) -> None:
    from wirewatch.bus.kafka import ensure_topics, standard_topics
    from wirewatch.core.config import Settings

    await ensure_topics(str(ctx.kafka), standard_topics(Settings(topic_prefix=prefix)))


async def _publish(ctx: Context, prefix: str, items: list[dict[str, Any]]) -> None:
    from wirewatch.bus.kafka import KafkaPublisher

    async with KafkaPublisher(str(ctx.kafka)) as pub:
        for batch in chunks(items, 1000):
            await pub.publish_many(f"{prefix}.raw", [(i["source"]["id"], i) for i in batch])


class _TopicCount:
    """Messages in a topic (sum of end offsets; topics here are fresh), read with one consumer.

    One consumer for the whole measurement: a new one per sample (connect, metadata, close,
    four times a second) took 0.3-0.5 of a core from the services being measured.
    """

    def __init__(self, ctx: Context, topic: str) -> None:
        from aiokafka import AIOKafkaConsumer

        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=ctx.kafka)
        self.partitions: list[Any] = []

    async def __aenter__(self) -> _TopicCount:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def __call__(self) -> int:
        from aiokafka import TopicPartition

        if not self.partitions:
            await self.consumer._client.force_metadata_update()
            parts = self.consumer.partitions_for_topic(self.topic) or set()
            self.partitions = [TopicPartition(self.topic, p) for p in sorted(parts)]
        ends = await self.consumer.end_offsets(self.partitions) if self.partitions else {}
        return int(sum(ends.values()))


async def _es_count(es: Any, alias: str) -> int:
    resp = await es.count(index=alias, ignore_unavailable=True, allow_no_indices=True)
    return int(resp["count"])


Mark = Callable[[str, int], Awaitable[None]]


async def _no_mark(what: str, count: int) -> None:
    return None


async def _steady_rate(count: Callable[[], Awaitable[int]], target: int, alive: Callable[[], bool],
                       interval: float = 0.25, mark: Mark = _no_mark) -> tuple[float | None, int, str]:
    """Poll ``count`` until ``target``; items/s between 10% and 90% of it, the last count, a note.

    A window that would last longer than :data:`MAX_WINDOW` is cut there: the
    rate so far is the result, and the note says where it stopped. ``mark(what, count)``
    is awaited as the count first moves ("first"), at the window's ends ("lo",
    "hi") and at the target ("end"), so a caller can sample its services there.
    """
    lo, hi = 0.1 * target, 0.9 * target
    t_lo = t_hi = None
    last, last_change = -1, time.monotonic()
    started = time.monotonic()
    while True:
        n = await count()
        now = time.monotonic()
        if n != last:
            if last <= 0 < n:
                await mark("first", n)
            last, last_change = n, now
        if t_lo is None and n >= lo:
            t_lo = (now, n)
            await mark("lo", n)
        if t_hi is None and n >= hi:
            t_hi = (now, n)
            await mark("hi", n)
        if n >= target:
            await mark("end", n)
            break
        if t_lo is not None and t_hi is None and now - t_lo[0] > MAX_WINDOW and n > t_lo[1]:
            await mark("hi", n)
            rate = (n - t_lo[1]) / (now - t_lo[0])
            return rate, n, f"window capped at {MAX_WINDOW:.0f}s ({n}/{target} done)"
        if not alive():
            return None, n, f"a service exited early at {n}/{target}"
        stalled = now - last_change > (START_TIMEOUT if n == 0 else STALL_SECONDS)
        if stalled:
            return None, n, f"stalled at {n}/{target} after {now - started:.0f}s"
        await asyncio.sleep(interval)
    assert t_lo is not None and t_hi is not None
    if t_hi[0] <= t_lo[0]:
        return None, last, "finished between two polls; too few items to measure"
    return (t_hi[1] - t_lo[1]) / (t_hi[0] - t_lo[0]), last, ""


# ------------------------------------------------------------------- e2e

def _processed_docs(ctx: Context, count: int) -> list[dict[str, Any]]:
    """The final documents for the floor: ``wirewatch process`` output of the same items."""
    from bench.common import pin_one_core, timed_pipe, wirewatch_cmd

    earlier = ctx.out / "process-off.jsonl"  # processor.items_per_s output: the same items, in order
    if earlier.exists() and earlier.stat().st_mtime > ctx.items_path.stat().st_mtime:
        docs = []
        with earlier.open(encoding="utf-8") as fh:
            for line in fh:
                docs.append(json.loads(line))
                if len(docs) == count:
                    return docs
    out = ctx.out / f"e2e-processed-{count}.jsonl"
    src = ctx.out / f"e2e-raw-{count}.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for item in ctx.items(count):
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    cmd = [*pin_one_core(), *wirewatch_cmd(), "process", "--rules", str(ctx.rules_path), "--ner", "off"]
    _, proc = timed_pipe(cmd, src, out, 600)
    if proc.returncode != 0:
        raise RuntimeError(f"wirewatch process failed: {proc.stderr[-300:]!r}")
    return [json.loads(line) for line in out.open(encoding="utf-8")]


async def _bulk_floor(ctx: Context, docs: list[dict[str, Any]], target: int) -> float:
    """Items/s of the async bulk helper indexing the final documents, until searchable."""
    from elasticsearch.helpers import async_bulk

    from wirewatch.sinks.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore.from_url(str(ctx.elasticsearch), ctx.prefix("floor"))
    try:
        await store.setup()
        actions = [store.item_action(d) for d in docs]
        start = time.perf_counter()
        await async_bulk(store.client, actions, chunk_size=500, raise_on_error=False)
        await store.client.indices.refresh(index=store.items_alias)
        seconds = time.perf_counter() - start
        got = await _es_count(store.client, store.items_alias)
        if got < target:
            raise RuntimeError(f"floor indexed {got}/{target}")
        return len(docs) / seconds
    finally:
        await _drop_indices(store.client, ctx.prefix("floor"))
        await store.close()


async def _drop_indices(es: Any, prefix: str) -> None:
    try:
        await es.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        await es.indices.delete_index_template(name=f"{prefix}*")
    except Exception:  # best effort: a leftover bench index harms nobody
        pass


@dataclass
class _Sample:
    """The Faust worker's CPU seconds and the items it has written to ``.processed``, at one moment."""

    cpu: float
    processed: int


def _core_cpu(ctx: Context) -> tuple[Result, str]:
    """``processor.cpu_ms_per_item`` of this run, measured here when the processor step did not run."""
    found = ctx.measured.get("processor.cpu_ms_per_item")
    if found is not None:
        return found, "from the processor step of this run"
    _, results = processor_bench.core(ctx)
    return results[1], "measured inside this step (the processor step did not run)"


async def _e2e(ctx: Context) -> list[Result]:
    from elasticsearch import AsyncElasticsearch

    name = "e2e.items_per_s"
    count = min(E2E_ITEMS, ctx.items_count)
    items = ctx.items(count)
    target = len({i["id"] for i in items})  # live-blog revisions share an id: one document each
    core, core_source = _core_cpu(ctx)  # before the Faust worker starts: the two do not share the cores
    docs = _processed_docs(ctx, count)
    floor = await _bulk_floor(ctx, docs, target)

    prefix = ctx.prefix("e2e")
    await _create_topics(ctx, prefix)
    await _publish(ctx, prefix, items)
    es = AsyncElasticsearch(str(ctx.elasticsearch), request_timeout=30)
    samples: dict[str, _Sample] = {}
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        env = service_env(ctx, prefix, Path(tmp))
        logs = ctx.out / "logs"
        try:
            with Service(["processor", "--rules", str(ctx.rules_path), "--ner", "off"], env,
                         logs / "e2e-processor.log") as proc, \
                 Service(["indexer"], env, logs / "e2e-indexer.log") as indexer:

                async def mark(what: str, processed: int) -> None:
                    cpu = proc.cpu_seconds()  # right after the count: one moment
                    if cpu is not None:
                        samples[what] = _Sample(cpu, processed)

                def alive() -> bool:
                    return proc.alive() and indexer.alive()

                # the index's window for e2e.items_per_s; the worker's own (.processed) for its CPU
                async with _TopicCount(ctx, f"{prefix}.processed") as processed:
                    (rate, _reached, problem), (worker_rate, _, worker_problem) = await asyncio.gather(
                        _steady_rate(lambda: _es_count(es, f"{prefix}-items"), target, alive, interval=0.5),
                        _steady_rate(processed, count, alive, interval=0.25, mark=mark))
                usage = f"processor {proc.usage()}, indexer {indexer.usage()}"
                usage += f"; the worker's own steady rate on .processed: {_fmt_rate(worker_rate, worker_problem)}"
                if rate is None:
                    problem += f"; processor: {proc.tail()}; indexer: {indexer.tail()}"
        finally:
            await _drop_indices(es, prefix)
            await es.close()
    cpu = _cpu_result(samples, count, core, core_source)
    if rate is None:
        return [Result(name, None, "items/s", floor=floor, notes=f"{problem}; {usage}"), cpu]
    return [Result(
        name, rate, "items/s", floor=floor,
        notes=(f"{problem}; " if problem else "") + f"{count} raw items pre-loaded on {prefix}.raw -> 1 Faust processor (--ner off) -> indexer -> "
              f"count on {prefix}-items reaches {target} (distinct ids); steady 10%-90% window; "
              f"floor: async_bulk of the same processed documents + refresh; {usage}; "
              f"target ratio >= {E2E_RATIO_TARGET}",
        extra={"target_ratio": E2E_RATIO_TARGET},
    ), cpu]


def _fmt_rate(rate: float | None, problem: str) -> str:
    return (f"{rate:.0f} items/s" if rate is not None else "not measured") + (f" ({problem})" if problem else "")


def _cpu_result(samples: dict[str, _Sample], count: int, core: Result, core_source: str) -> Result:
    """The Faust worker's CPU per item over the e2e window, against ``wirewatch process``'s.

    Start-up is what the worker spent beyond the steady per-item cost of everything
    it processed: interpreter, rules, Faust's rebalance and table recovery, idle polls.
    """
    name = "e2e.processor_cpu_ms_per_item"
    lo, hi = samples.get("lo"), samples.get("hi")
    if lo is None or hi is None or hi.processed <= lo.processed:
        return missing(name, "ms/item", f"no steady window sampled (samples: {sorted(samples)})")
    per_item = (hi.cpu - lo.cpu) / (hi.processed - lo.processed)
    end = samples.get("end", hi)
    startup = max(0.0, end.cpu - end.processed * per_item)
    share = startup / end.cpu if end.cpu else 0.0
    first = samples.get("first")
    return Result(
        name, per_item * 1000, "ms/item", floor=core.value,
        notes=(f"user+sys CPU of the Faust worker (`wirewatch processor --ner off`, /proc/<pid>/stat) over the "
               f"worker's steady window (10%-90% of the {count} items on .processed): {hi.cpu - lo.cpu:.2f} CPU-s for "
               f"{hi.processed - lo.processed} items; whole run {end.cpu:.2f} CPU-s for {end.processed} items, of which start-up ~{startup:.2f} "
               f"CPU-s ({share:.0%}) and steady state {1 - share:.0%}"
               + (f"; {first.cpu:.2f} CPU-s used when its first item reached .processed" if first else "")
               + f"; floor: processor.cpu_ms_per_item ({core_source}; it includes its own start-up); "
               f"ratio = Faust path / core; target ratio <= {CPU_RATIO_TARGET}"),
        extra={"target_ratio_max": CPU_RATIO_TARGET, "window_cpu_s": round(hi.cpu - lo.cpu, 3),
               "window_items": hi.processed - lo.processed, "total_cpu_s": round(end.cpu, 3),
               "total_items": end.processed, "startup_cpu_s": round(startup, 3),
               "startup_share": round(share, 3)},
    )


# ------------------------------------------------------------------ scale

async def _processor_rate(ctx: Context, workers: int, items: list[dict[str, Any]]) -> tuple[float | None, str]:
    prefix = ctx.prefix(f"scale{workers}")
    await _create_topics(ctx, prefix)
    await _publish(ctx, prefix, items)
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        services = [
            Service(["processor", "--rules", str(ctx.rules_path), "--ner", "off"],
                    service_env(ctx, prefix, Path(tmp) / f"w{i}"),
                    ctx.out / "logs" / f"scale{workers}-worker{i}.log")
            for i in range(workers)
        ]
        for s in services:
            s.__enter__()
        try:
            async with _TopicCount(ctx, f"{prefix}.processed") as processed:
                rate, _reached, problem = await _steady_rate(
                    processed, len(items), lambda: all(s.alive() for s in services), interval=0.5)
            if rate is None:
                problem += "; " + " | ".join(s.tail() for s in services)
            usage = ", ".join(s.usage() for s in services)
            return rate, f"{problem}; {usage}" if problem else usage
        finally:
            for s in services:
                s.__exit__(None, None, None)


async def _scale(ctx: Context) -> Result:
    name = "scale.workers_2_vs_1"
    items = ctx.items(min(SCALE_ITEMS, ctx.items_count))
    one, p1 = await _processor_rate(ctx, 1, items)
    two, p2 = await _processor_rate(ctx, 2, items)
    if one is None or two is None:
        return Result(name, None, "ratio", notes=f"1 worker: {p1 or 'ok'}; 2 workers: {p2 or 'ok'}")
    return Result(
        name, two / one, "ratio", floor=1.0, ratio=two / one,
        notes=f"1 worker: {p1}; 2 workers: {p2}; {len(items)} items pre-loaded on a 6-partition raw topic; .processed throughput "
              f"(steady 10%-90% window): 1 worker {one:.0f} items/s, 2 workers {two:.0f} items/s; "
              "2 cores shared with Kafka and Elasticsearch; the dedupe stage is one partition by design",
        extra={"one_worker_items_per_s": round(one, 1), "two_workers_items_per_s": round(two, 1)},
    )


# ---------------------------------------------------------------- latency

@dataclass
class _Latencies:
    """Publish -> webhook latencies of one run (ms, sorted) and the bare Kafka hop's (the floor)."""

    alerts: list[float]
    hops: list[float]
    note: str

    def pct(self, p: float, floor: bool = False) -> float | None:
        values = self.hops if floor else self.alerts
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] if values else None

    def tail(self) -> dict[str, Any]:
        """The slow end, for ``extra``: a few seconds' stall and steady queueing read alike in p99 alone."""
        late = sum(ms > LATENCY_TARGET_MS for ms in self.alerts)
        return {"target_ms": LATENCY_TARGET_MS, "p90_ms": round(self.pct(90) or 0.0, 1),
                "max_ms": round(self.alerts[-1], 1), "over_target": late, "alerts": len(self.alerts)}


async def _latency(ctx: Context, rate: int) -> _Latencies | str:
    """Alerts at ``rate`` items/s for up to LATENCY_SECONDS; the latencies, or why there are none."""
    from aiohttp import web

    from wirewatch.bus.kafka import KafkaPublisher

    prefix = ctx.prefix(f"latency{rate}")
    published: dict[str, float] = {}
    latencies: list[float] = []
    raw_hops: list[float] = []
    seen: set[str] = set()

    async def hook(request: web.Request) -> web.Response:
        now = time.time()
        alert = await request.json()
        key = request.headers.get("Idempotency-Key", alert.get("id", ""))
        sent = published.get(alert.get("item_id", ""))
        if sent is not None and key not in seen:
            seen.add(key)
            latencies.append((now - sent) * 1000)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    total = min(rate * LATENCY_SECONDS, ctx.items_count - WARM_ITEMS)
    pool = ctx.items(total + WARM_ITEMS)
    warm, items = pool[:WARM_ITEMS], pool[WARM_ITEMS:]
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        rules: list[dict[str, Any]] = [
            {**rule, "notify": ["bench"]} if i % 4 == 0 else rule  # a quarter of the rules page the desk
            for i, rule in enumerate(ctx.rules())
        ]
        rules_file = Path(tmp) / "rules.yaml"
        rules_file.write_text(json.dumps({"rules": rules}), "utf-8")
        dest_file = Path(tmp) / "destinations.yaml"
        dest_file.write_text(json.dumps({"destinations": {"bench": {
            "url": f"http://127.0.0.1:{port}/hook", "retries": 2, "concurrency": 16}}}), "utf-8")
        await _create_topics(ctx, prefix)
        env = service_env(ctx, prefix, Path(tmp) / "data")
        logs = ctx.out / "logs"
        try:
            with Service(["processor", "--rules", str(rules_file), "--ner", "off"], env,
                         logs / "latency-processor.log") as proc, \
                 Service(["notifier", "--destinations", str(dest_file)], env,
                         logs / "latency-notifier.log") as notifier:
                async with KafkaPublisher(str(ctx.kafka)) as pub:
                    # warm-up: wait for the first alert, so start-up is not counted
                    for item in warm:
                        published[item["id"]] = time.time()
                    await pub.publish_many(f"{prefix}.raw", [(i["source"]["id"], i) for i in warm])
                    deadline = time.monotonic() + START_TIMEOUT
                    while not latencies and time.monotonic() < deadline and proc.alive() and notifier.alive():
                        await asyncio.sleep(0.2)
                    if not latencies:
                        return f"no alert within {START_TIMEOUT:.0f}s; processor: {proc.tail()}; notifier: {notifier.tail()}"
                    await asyncio.sleep(3)
                    latencies.clear()
                    seen.clear()
                    floor_task = asyncio.create_task(_raw_hop(ctx, f"{prefix}.raw", published, raw_hops,
                                                              {i["id"] for i in items}))
                    await asyncio.sleep(2)  # the floor consumer joins before the first publish
                    tick = 0.1
                    per_tick = max(1, int(rate * tick))
                    start = time.monotonic()
                    for n, batch in enumerate(chunks(items, per_tick)):
                        delay = start + n * tick - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        now = time.time()
                        for item in batch:
                            published[item["id"]] = now
                        await pub.publish_many(f"{prefix}.raw", [(i["source"]["id"], i) for i in batch])
                    achieved = len(items) / (time.monotonic() - start)
                    last = -1
                    while len(latencies) != last:  # drain: until no new alert for 5 s
                        last = len(latencies)
                        await asyncio.sleep(5)
                    floor_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await floor_task
        finally:
            await runner.cleanup()
    if not latencies:
        return "no alerts received during the measured window"
    note = (f"{len(items)} items at {achieved:.0f} items/s (asked {rate}) for {len(items) / rate:.0f}s -> Faust processor -> "
            f"alerts topic -> notifier -> local webhook; {len(latencies)} alerts "
            f"(250 of {len(rules)} rules notify); from the publish call to the webhook request; "
            f"floor: the bare Kafka hop (publish -> a plain consumer of the raw topic, {len(raw_hops)} items) "
            "in the same window; ratio = ours / floor (lower is better)")
    return _Latencies(sorted(latencies), sorted(raw_hops), note)


async def _raw_hop(ctx: Context, topic: str, published: dict[str, float], out: list[float],
                   wanted: set[str]) -> None:
    """The floor: publish -> receive latency of a plain consumer on the raw topic."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=ctx.kafka, group_id=f"{topic}-floor",
                                auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    item_id = json.loads(record.value)["id"]
                    sent = published.get(item_id)
                    if sent is not None and item_id in wanted:
                        out.append((now - sent) * 1000)
    finally:
        await consumer.stop()


# ------------------------------------------------------------------- entry

def _unavailable(ctx: Context, *modules: str) -> str | None:
    """Why the Kafka path cannot be measured here (no stack, a missing module), or None."""
    if not ctx.kafka or not ctx.elasticsearch:
        return "WIREWATCH_TEST_KAFKA / WIREWATCH_TEST_ELASTICSEARCH not set (source deploy/local/env.sh)"
    for module in ("wirewatch.processors.faust_app", *modules):
        why = _have(module)
        if why:
            return why
    return None


def run_e2e(ctx: Context) -> list[Result]:
    why = _unavailable(ctx)
    if why:
        return [missing("e2e.items_per_s", "items/s", why), missing("e2e.processor_cpu_ms_per_item", "ms/item", why)]
    return asyncio.run(_e2e(ctx))


def run_scale(ctx: Context) -> list[Result]:
    why = _unavailable(ctx)
    return [missing("scale.workers_2_vs_1", "ratio", why)] if why else [asyncio.run(_scale(ctx))]


def _measure_latency(ctx: Context, rate: int, names: tuple[str, ...]) -> _Latencies | list[Result]:
    """The latencies at ``rate``, or the names recorded as not measured, with why."""
    got = _unavailable(ctx, "wirewatch.sinks.notifier") or asyncio.run(_latency(ctx, rate))
    return [missing(n, "ms", got) for n in names] if isinstance(got, str) else got


def run_latency(ctx: Context) -> list[Result]:
    """p50 and p99 at 200 items/s: the desk's everyday load."""
    names = ("alert.latency_ms_p50", "alert.latency_ms_p99")
    got = _measure_latency(ctx, LATENCY_RATE, names)
    if isinstance(got, list):
        return got
    return [
        Result(names[0], got.pct(50), "ms", floor=got.pct(50, floor=True), notes=got.note),
        Result(names[1], got.pct(99), "ms", floor=got.pct(99, floor=True),
               notes=got.note + f"; target < {LATENCY_TARGET_MS} ms", extra=got.tail()),
    ]


def run_latency_1000(ctx: Context) -> list[Result]:
    """p99 at 1,000 items/s: a news burst, five times the everyday load."""
    name = "alert.latency_ms_p99_1000"
    got = _measure_latency(ctx, FAST_LATENCY_RATE, (name,))
    if isinstance(got, list):
        return got
    return [Result(name, got.pct(99), "ms", floor=got.pct(99, floor=True),
                   notes=got.note + f"; target < {LATENCY_TARGET_MS} ms on a quiet machine",
                   extra={**got.tail(), "p50_ms": round(got.pct(50) or 0.0, 1), "rate": FAST_LATENCY_RATE})]
