"""The Kafka path: ``e2e.items_per_s``, ``scale.workers_2_vs_1``, ``alert.latency_ms_p50/p99``.

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
from pathlib import Path
from typing import Any

from bench.common import Context, Result, Service, chunks, missing, service_env

E2E_ITEMS = 4000
SCALE_ITEMS = 4000
#: A steady window longer than this ends the measurement early (rate so far; the note says so).
MAX_WINDOW = 60.0
LATENCY_RATE = 200  # items/s
LATENCY_SECONDS = 30
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


async def _topic_count(ctx: Context, topic: str) -> int:
    """Messages in ``topic`` (sum of end offsets; topics here are fresh)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=ctx.kafka)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def _es_count(es: Any, alias: str) -> int:
    resp = await es.count(index=alias, ignore_unavailable=True, allow_no_indices=True)
    return int(resp["count"])


async def _steady_rate(count: Callable[[], Awaitable[int]], target: int, alive: Callable[[], bool],
                       interval: float = 0.25) -> tuple[float | None, int, str]:
    """Poll ``count`` until ``target``; items/s between 10% and 90% of it, the last count, a note.

    A window that would last longer than :data:`MAX_WINDOW` is cut there: the
    rate so far is the result, and the note says where it stopped.
    """
    lo, hi = 0.1 * target, 0.9 * target
    t_lo = t_hi = None
    last, last_change = -1, time.monotonic()
    started = time.monotonic()
    while True:
        n = await count()
        now = time.monotonic()
        if n != last:
            last, last_change = n, now
        if t_lo is None and n >= lo:
            t_lo = (now, n)
        if t_hi is None and n >= hi:
            t_hi = (now, n)
        if n >= target:
            break
        if t_lo is not None and t_hi is None and now - t_lo[0] > MAX_WINDOW and n > t_lo[1]:
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


async def _e2e(ctx: Context) -> Result:
    from elasticsearch import AsyncElasticsearch

    name = "e2e.items_per_s"
    count = min(E2E_ITEMS, ctx.items_count)
    items = ctx.items(count)
    target = len({i["id"] for i in items})  # live-blog revisions share an id: one document each
    docs = _processed_docs(ctx, count)
    floor = await _bulk_floor(ctx, docs, target)

    prefix = ctx.prefix("e2e")
    await _create_topics(ctx, prefix)
    await _publish(ctx, prefix, items)
    es = AsyncElasticsearch(str(ctx.elasticsearch), request_timeout=30)
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-") as tmp:
        env = service_env(ctx, prefix, Path(tmp))
        logs = ctx.out / "logs"
        try:
            with Service(["processor", "--rules", str(ctx.rules_path), "--ner", "off"], env,
                         logs / "e2e-processor.log") as proc, \
                 Service(["indexer"], env, logs / "e2e-indexer.log") as indexer:
                rate, _reached, problem = await _steady_rate(
                    lambda: _es_count(es, f"{prefix}-items"), target,
                    lambda: proc.alive() and indexer.alive(), interval=0.5)
                usage = f"processor {proc.usage()}, indexer {indexer.usage()}"
                if rate is None:
                    problem += f"; processor: {proc.tail()}; indexer: {indexer.tail()}"
        finally:
            await _drop_indices(es, prefix)
            await es.close()
    if rate is None:
        return Result(name, None, "items/s", floor=floor, notes=f"{problem}; {usage}")
    return Result(
        name, rate, "items/s", floor=floor,
        notes=(f"{problem}; " if problem else "") + f"{count} raw items pre-loaded on {prefix}.raw -> 1 Faust processor (--ner off) -> indexer -> "
              f"count on {prefix}-items reaches {target} (distinct ids); steady 10%-90% window; "
              f"floor: async_bulk of the same processed documents + refresh; {usage}; target ratio >= 0.5",
        extra={"target_ratio": 0.5},
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
            rate, _reached, problem = await _steady_rate(
                lambda: _topic_count(ctx, f"{prefix}.processed"), len(items),
                lambda: all(s.alive() for s in services), interval=0.5)
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

async def _latency(ctx: Context) -> list[Result]:
    from aiohttp import web

    from wirewatch.bus.kafka import KafkaPublisher

    names = ("alert.latency_ms_p50", "alert.latency_ms_p99")
    prefix = ctx.prefix("latency")
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

    total = LATENCY_RATE * LATENCY_SECONDS
    pool = ctx.items(min(ctx.items_count, total + 200))
    warm, items = pool[:200], pool[200 : 200 + total]
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
                        why = f"no alert within {START_TIMEOUT:.0f}s; processor: {proc.tail()}; notifier: {notifier.tail()}"
                        return [missing(n, "ms", why) for n in names]
                    await asyncio.sleep(3)
                    latencies.clear()
                    seen.clear()
                    floor_task = asyncio.create_task(_raw_hop(ctx, f"{prefix}.raw", published, raw_hops,
                                                              {i["id"] for i in items}))
                    await asyncio.sleep(2)  # the floor consumer joins before the first publish
                    tick = 0.1
                    per_tick = int(LATENCY_RATE * tick)
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
        return [missing(n, "ms", "no alerts received during the measured window") for n in names]
    ordered = sorted(latencies)
    hops = sorted(raw_hops)

    def pct(p: float, values: list[float] = ordered) -> float:
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]

    note = (f"{len(items)} items at {achieved:.0f} items/s for {LATENCY_SECONDS}s -> Faust processor -> "
            f"alerts topic -> notifier -> local webhook; {len(latencies)} alerts "
            f"(250 of {len(rules)} rules notify); from the publish call to the webhook request; "
            f"floor: the bare Kafka hop (publish -> a plain consumer of the raw topic, {len(raw_hops)} items) "
            "in the same window; ratio = ours / floor (lower is better)")
    return [
        Result(names[0], pct(50), "ms", floor=pct(50, hops) if hops else None, notes=note),
        Result(names[1], pct(99), "ms", floor=pct(99, hops) if hops else None, notes=note + "; target < 1000 ms",
               extra={"target_ms": 1000, "max_ms": round(ordered[-1], 1)}),
    ]


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

def _guard(ctx: Context, names: tuple[str, ...], unit: str) -> list[Result] | None:
    if not ctx.kafka or not ctx.elasticsearch:
        return [missing(n, unit, "WIREWATCH_TEST_KAFKA / WIREWATCH_TEST_ELASTICSEARCH not set "
                                 "(source deploy/local/env.sh)") for n in names]
    why = _have("wirewatch.processors.faust_app")
    return [missing(n, unit, why) for n in names] if why else None


def run_e2e(ctx: Context) -> list[Result]:
    return _guard(ctx, ("e2e.items_per_s",), "items/s") or [asyncio.run(_e2e(ctx))]


def run_scale(ctx: Context) -> list[Result]:
    return _guard(ctx, ("scale.workers_2_vs_1",), "ratio") or [asyncio.run(_scale(ctx))]


def run_latency(ctx: Context) -> list[Result]:
    names = ("alert.latency_ms_p50", "alert.latency_ms_p99")
    guarded = _guard(ctx, names, "ms")
    if guarded:
        return guarded
    why = _have("wirewatch.sinks.notifier")
    return [missing(n, "ms", why) for n in names] if why else asyncio.run(_latency(ctx))
