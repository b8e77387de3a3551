"""The notifier: alerts from the bus delivered as signed webhooks (or mail), once per destination.

* One notification per rule per story: the processor makes alert ids
  ``f"{rule}:{story_id}"`` (``:{revision}`` appended for updates the rule asks
  for); the notifier delivers each ``(destination, alert id)`` once.
* Delivered set: every finished delivery (``delivered``, ``throttled`` or
  ``dead-lettered``, a ``schemas/delivery.json`` record) is appended to a
  compacted topic ``<prefix>.notifier-delivered`` keyed by
  ``"<destination>|<alert id>"``, read back at start; the indexer stores the
  records (the alert history). Only ``delivered`` and ``throttled`` keys are
  done: a dead-lettered delivery is tried again when ``wirewatch deadletters
  replay`` puts its alert back. Offsets of the alerts
  topic are committed only when nothing is in flight, so a crash replays and
  the delivered set (plus the ``Idempotency-Key`` header for the window
  between a 2xx and the delivered record) keeps it to one delivery.
* Rule ``throttle``: alerts carry ``throttle_seconds``; after a rule notified a
  destination, its further alerts to that destination within the window (by
  ``matched_at``) are held back: counted as ``outcome="throttled"``, logged,
  recorded in the delivered set (so a replay does not send them either), and
  still stored and searchable. The window restarts with the process.
* Each destination has its own queue and workers: a slow or dead destination
  only delays itself. Retries: exponential back-off with full jitter on
  timeouts, connection errors, 408/425/429/5xx (``Retry-After`` honoured);
  other 4xx are permanent. After the last try the alert goes to the
  dead-letter topic and ``wirewatch_notifier_deliveries{outcome="failed"}``.

* Mutes (``mute:`` of a rule or destination, :mod:`wirewatch.core.schedule`): an alert the
  processor marked ``muted`` (rule mute) or one arriving while its destination is muted is not
  sent: recorded with outcome ``muted`` and the ``muted`` object (by, name, until), done. It is
  not sent when the window ends, unless a digest applies: then it joins the digest.
* Digests (``digest:`` of a rule or destination, :mod:`wirewatch.sinks.digest`): the alert is
  recorded ``digested`` (with what the digest needs of it) instead of sent; at the period's
  end one digest is sent. The records are the digest's persisted state: at start the open
  digests are rebuilt from them (``records``), and one whose time passed while the notifier was
  down is sent at once. The digest's own record (key ``<destination>|<digest id>``) closes it.

Signatures and ``destinations.yaml``: see :mod:`wirewatch.sinks.destinations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from wirewatch.bus.base import Message, Publisher, Subscriber, batches_until
from wirewatch.core.config import Settings
from wirewatch.core.deadletter import dead_letter, dead_letter_for, utc_now
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import get_logger
from wirewatch.core.metrics import DEAD_LETTERS, DELIVERIES, DELIVERY_SECONDS, STAGE_ITEMS
from wirewatch.core.retry import parse_retry_after
from wirewatch.core.schedule import DigestConfig, muted_until, period
from wirewatch.core.times import rfc3339
from wirewatch.sinks import email as mail
from wirewatch.sinks.destinations import Destination, render_body, render_digest, request_headers
from wirewatch.sinks.digest import Bucket, build_digest, digest_id, entry, restore
from wirewatch.sinks.indexer import bad_input_reason

log = get_logger("sinks.notifier")

RETRYABLE_STATUSES = frozenset({408, 425, 429})


#: outcomes after which a (destination, alert) is done: never sent again, even on a replay
DONE_OUTCOMES = frozenset({"delivered", "throttled", "digested", "muted"})

#: how often (seconds) at most the digest timer looks at the clock
DIGEST_TICK = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


def delivery_key(destination: str, alert_id: str) -> str:
    return f"{destination}|{alert_id}"


def done_keys(latest: Mapping[str, Any]) -> set[str]:
    """The keys of a delivered topic's latest records (key -> value) that are done.

    A dead-lettered delivery is not done: replaying its dead letter must reach the
    destination. A record without an outcome (none are written so) counts as delivered.
    ``digested`` and ``muted`` deliveries are done (they are never sent one by one).
    """
    return {key for key, value in latest.items()
            if not isinstance(value, dict) or value.get("outcome", "delivered") in DONE_OUTCOMES}


def delivery_record(alert: Mapping[str, Any], destination: str, outcome: str, *,
                    attempts: int | None = None, reason: str | None = None) -> dict[str, Any]:
    """The ``schemas/delivery.json`` record of one finished delivery."""
    record: dict[str, Any] = {
        "alert_id": str(alert["id"]), "destination": destination, "outcome": outcome, "at": utc_now(),
        "rule": str(alert.get("rule", "")), "story_id": str(alert.get("story_id", "")),
    }
    if attempts is not None:
        record["attempts"] = attempts
    if reason is not None:
        record["reason"] = reason
    return record


class DeliveredLog:
    """The persistent set of finished deliveries: in memory, appended to a (compacted) topic.

    ``known``: keys already done (see :func:`done_keys`); only records with an outcome in
    :data:`DONE_OUTCOMES` join the set, a dead-lettered one is published but stays retryable.
    """

    def __init__(self, publisher: Publisher | None = None, topic: str | None = None,
                 known: Iterable[str] = ()) -> None:
        self.publisher = publisher
        self.topic = topic
        self._keys = set(known)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    async def add(self, key: str, record: dict[str, Any]) -> None:
        if self.publisher is not None and self.topic is not None:
            await self.publisher.publish(self.topic, record, key=key)
        if record.get("outcome") in DONE_OUTCOMES:
            self._keys.add(key)


@dataclass(frozen=True)
class _Job:
    key: str
    alert: dict[str, Any]
    message: Message


class Notifier:
    """Deliver alerts from ``subscriber`` to ``destinations``; the bus and HTTP client are injected."""

    def __init__(
        self,
        subscriber: Subscriber,
        destinations: Mapping[str, Destination],
        dead_letters: Publisher,
        delivered: DeliveredLog,
        *,
        dead_letter_topic: str,
        client: httpx.AsyncClient | None = None,
        max_records: int = 100,
        max_in_flight: int = 10_000,
        records: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = _now,
        digest_tick: float = DIGEST_TICK,
    ) -> None:
        """``records``: the delivered log's latest records (key -> record), to rebuild open digests;
        ``clock``: the time mutes and digest periods are read against (injected by tests)."""
        self.subscriber = subscriber
        self.destinations = dict(destinations)
        self.dead_letters = dead_letters
        self.delivered = delivered
        self.dead_letter_topic = dead_letter_topic
        self.max_records = max_records
        self.max_in_flight = max_in_flight
        self._client = client
        self._queues: dict[str, asyncio.Queue[_Job]] = {n: asyncio.Queue() for n in self.destinations}
        self._queued: set[str] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._commit_wanted = asyncio.Event()
        self._failure: BaseException | None = None
        self._last_notified: dict[tuple[str, str], float] = {}
        self.clock = clock
        self.digest_tick = digest_tick
        self._buckets: dict[str, Bucket] = restore(records or {}, self.destinations)
        self._rule_digests: dict[str, DigestConfig] = {}
        self._digest_wake = asyncio.Event()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set; the subscriber is expected to be started."""
        stop = stop or asyncio.Event()
        own_client = self._client is None
        client = self._client or httpx.AsyncClient(limits=httpx.Limits(max_connections=None))
        tasks = [
            asyncio.create_task(self._worker(dest, client, stop), name=f"notify-{dest.name}-{i}")
            for dest in self.destinations.values()
            for i in range(dest.concurrency)
        ]
        tasks.append(asyncio.create_task(self._committer(), name="notify-committer"))
        tasks.append(asyncio.create_task(self._digester(client, stop), name="notify-digests"))
        try:
            async for batch in batches_until(self.subscriber, stop, self.max_records):
                await self._accept(batch)
                if self._in_flight >= self.max_in_flight:
                    await self._idle.wait()  # back-pressure only when far behind
            if self._failure is not None:
                raise self._failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if own_client:
                await client.aclose()

    def _throttled(self, destination: str, alert: dict[str, Any]) -> bool:
        """True when the rule already notified ``destination`` within its throttle window."""
        window = alert.get("throttle_seconds")
        if not window:
            return False
        at = datetime.fromisoformat(alert["matched_at"].replace("Z", "+00:00")).timestamp()
        slot = (destination, alert["rule"])
        last = self._last_notified.get(slot)
        if last is not None and 0 <= at - last < window:
            return True
        self._last_notified[slot] = at
        return False

    def _begin(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()
            self._commit_wanted.set()

    async def _committer(self) -> None:
        """Commit whenever nothing is in flight: every yielded alert is then finished."""
        while True:
            await self._commit_wanted.wait()
            self._commit_wanted.clear()
            if self._in_flight == 0 and self._failure is None:
                await self.subscriber.commit()

    async def _accept(self, batch: list[Message]) -> None:
        self._begin()
        try:
            letters: list[dict[str, Any]] = []
            for message in batch:
                reason = bad_input_reason(message, "alert")
                if reason:
                    log.warning("bad alert sent to dead-letter topic", offset=message.offset, reason=reason)
                    letters.append(self._letter(message, reason))
                    continue
                alert: dict[str, Any] = message.value
                for name in alert.get("notify", []):
                    if name not in self.destinations:
                        letters.append(self._letter(message, f"unknown destination {name!r}", name))
                        continue
                    key = delivery_key(name, alert["id"])
                    if key in self.delivered or key in self._queued:
                        DELIVERIES.labels(name, "skipped").inc()
                        continue
                    destination = self.destinations[name]
                    muted = self._muted(destination, alert)
                    try:
                        bucket = self._bucket(destination, alert)
                    except ValueError as exc:  # a digest in the alert that is no schedule
                        letters.append(self._letter(message, f"bad digest: {' '.join(str(exc).split())}", name))
                        continue
                    if bucket is not None:
                        await self._hold_for_digest(bucket, key, alert, muted)
                        continue
                    if muted is not None:
                        DELIVERIES.labels(name, "muted").inc()
                        log.info("alert muted", destination=name, rule=alert["rule"], alert=alert["id"], **muted)
                        record = delivery_record(alert, name, "muted", attempts=0)
                        record["muted"] = muted
                        await self.delivered.add(key, record)
                        continue
                    if self._throttled(name, alert):
                        DELIVERIES.labels(name, "throttled").inc()
                        log.info("alert throttled", destination=name, rule=alert["rule"], alert=alert["id"],
                                 throttle_seconds=alert["throttle_seconds"])
                        await self.delivered.add(key, delivery_record(alert, name, "throttled", attempts=0))
                        continue
                    self._queued.add(key)
                    self._begin()
                    self._queues[name].put_nowait(_Job(key, alert, message))
            if letters:
                await self.dead_letters.publish_many(self.dead_letter_topic, [(m.get("key"), m) for m in letters])
                DEAD_LETTERS.labels("notifier").inc(len(letters))
            STAGE_ITEMS.labels("notifier").inc(len(batch))
        finally:
            self._end()

    async def _worker(self, destination: Destination, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        queue = self._queues[destination.name]
        while True:
            job = await queue.get()
            try:
                await self._deliver(destination, client, job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus is gone: stop, replay from the last commit
                log.error("cannot record a delivery; stopping", destination=destination.name, error=str(exc))
                self._failure = exc
                stop.set()
                return
            finally:
                self._queued.discard(job.key)
                self._end()

    async def _deliver(self, destination: Destination, client: httpx.AsyncClient, job: _Job) -> None:
        body = render_body(job.alert, destination.format, destination)
        alert_id = job.alert["id"]
        ok, attempts, last_error = await self._post(destination, client, alert_id, body)
        if ok:
            DELIVERIES.labels(destination.name, "delivered").inc()
            await self.delivered.add(job.key, delivery_record(job.alert, destination.name, "delivered",
                                                              attempts=attempts))
            log.info("alert delivered", destination=destination.name, rule=job.alert.get("rule"),
                     alert=alert_id, title=job.alert.get("title"), attempts=attempts)
            return
        DELIVERIES.labels(destination.name, "failed").inc()
        reason = f"delivery to {destination.name} failed after {attempts} attempt(s): {last_error}"
        log.warning("delivery failed; sent to dead-letter topic", destination=destination.name,
                    alert=alert_id, error=last_error)
        letter = self._letter(job.message, reason, destination.name, attempts)
        await self.dead_letters.publish(self.dead_letter_topic, letter, key=alert_id)
        DEAD_LETTERS.labels("notifier").inc()
        await self.delivered.add(job.key, delivery_record(job.alert, destination.name, "dead-lettered",
                                                          attempts=attempts, reason=reason))

    async def _post(self, destination: Destination, client: httpx.AsyncClient, key: str,
                    body: bytes) -> tuple[bool, int, str]:
        """Send ``body`` with retries (``key``: the Idempotency-Key; email: an SMTP transaction):
        (accepted?, attempts, last error)."""
        alert_id = key
        last_error = "not attempted"
        attempts = 0
        for attempt in range(destination.retries + 1):
            if destination.limiter is not None:
                await destination.limiter.acquire()
            attempts += 1
            wait_at_least = 0.0
            started = time.perf_counter()
            try:
                if destination.smtp is not None:  # email: one SMTP transaction, the same retries after
                    await mail.send(destination.name, destination.smtp, body, destination.timeout)
                    response = None
                else:
                    response = await client.post(
                        destination.url, content=body, timeout=destination.timeout,
                        headers=request_headers(destination, alert_id, body),
                    )
            except mail.SendError as exc:
                last_error = str(exc)
                if exc.permanent:
                    break  # a 5xx reply, a TLS failure: retrying will not help
            except httpx.TimeoutException:
                last_error = f"timed out after {destination.timeout:g}s"
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                DELIVERY_SECONDS.labels(destination.name).observe(time.perf_counter() - started)
                if response is None or response.is_success:
                    return True, attempts, ""
                last_error = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRYABLE_STATUSES:
                    break  # permanent: retrying will not help
                wait_at_least = parse_retry_after(response.headers.get("Retry-After"), destination.backoff.cap) or 0.0
            if attempt < destination.retries:
                DELIVERIES.labels(destination.name, "retried").inc()
                log.info("delivery failed; retrying", destination=destination.name, alert=alert_id,
                         error=last_error, attempt=attempts)
                await destination.backoff.sleep(attempt, at_least=wait_at_least)
        return False, attempts, last_error

    # -- mutes and digests ----------------------------------------------------------------------
    def _muted(self, destination: Destination, alert: dict[str, Any]) -> dict[str, Any] | None:
        """Why ``alert`` is held back from ``destination`` (its rule's mute, else the destination's), or None."""
        muted = alert.get("muted")
        if isinstance(muted, dict):
            return dict(muted)
        if destination.mute:
            until = muted_until(destination.mute, self.clock())
            if until is not None:
                return {"by": "destination", "name": destination.name, "until": rfc3339(until)}
        return None

    def _bucket(self, destination: Destination, alert: dict[str, Any]) -> Bucket | None:
        """The open digest ``alert`` joins for ``destination`` (the destination's digest first), or None."""
        rule: str | None = None
        config = destination.digest
        if config is None:
            spec = alert.get("digest")
            if not isinstance(spec, dict):
                return None
            cache = json.dumps(spec, sort_keys=True)
            config = self._rule_digests.get(cache)
            if config is None:
                config = self._rule_digests[cache] = DigestConfig.from_alert(spec)
            rule = str(alert["rule"])
        start, end = period(config.schedule(), self.clock())
        bucket_id = digest_id(destination.name, start, rule)
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            bucket = self._buckets[bucket_id] = Bucket(bucket_id, destination.name, start, end, config.max_items, rule)
            self._digest_wake.set()
        return bucket

    async def _hold_for_digest(self, bucket: Bucket, key: str, alert: dict[str, Any],
                               muted: dict[str, Any] | None) -> None:
        """Record ``alert`` as ``digested`` (the digest's persisted state), then add it to the bucket."""
        item = entry(alert)
        record = delivery_record(alert, bucket.destination, "digested", attempts=0)
        record.update(digest=bucket.meta(), entry=item)
        if muted is not None:
            record["muted"] = muted
        await self.delivered.add(key, record)
        bucket.entries[item["alert_id"]] = item
        DELIVERIES.labels(bucket.destination, "digested").inc()

    async def _digester(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Send each digest when its period ends; those due already at start were missed while down."""
        now = self.clock()
        for bucket in self._buckets.values():
            if bucket.end <= now:
                log.info("digest missed while the notifier was down; sending it now", destination=bucket.destination,
                         digest=bucket.id, due=rfc3339(bucket.end), alerts=len(bucket.entries))
        while True:
            now = self.clock()
            for bucket in sorted((b for b in self._buckets.values() if b.end <= now), key=lambda b: (b.end, b.id)):
                try:
                    await self._send_digest(bucket, client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the bus is gone: stop; the records rebuild the digest
                    log.error("cannot record a digest; stopping", digest=bucket.id, error=str(exc))
                    self._failure = exc
                    stop.set()
                    return
            waits = [(b.end - now).total_seconds() for b in self._buckets.values()]
            self._digest_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._digest_wake.wait(), max(0.01, min([self.digest_tick, *waits])))

    async def _send_digest(self, bucket: Bucket, client: httpx.AsyncClient) -> None:
        """Send one digest (Idempotency-Key: its id) and record it; a failed one is dead-lettered."""
        destination = self.destinations[bucket.destination]
        key = delivery_key(destination.name, bucket.id)
        if key in self.delivered or not bucket.entries:
            self._buckets.pop(bucket.id, None)
            return
        digest = build_digest(bucket)
        body = render_digest(destination.format, digest, destination)
        ok, attempts, last_error = await self._post(destination, client, bucket.id, body)
        record: dict[str, Any] = {
            "alert_id": bucket.id, "destination": destination.name, "outcome": "delivered" if ok else "dead-lettered",
            "at": utc_now(), "rule": bucket.rule or "", "story_id": "", "attempts": attempts,
            "digest": {**bucket.meta(), "alerts": digest["alerts"], "events": digest["events_total"]},
        }
        if ok:
            DELIVERIES.labels(destination.name, "delivered").inc()
            log.info("digest delivered", destination=destination.name, digest=bucket.id, alerts=digest["alerts"],
                     events=digest["events_total"], attempts=attempts)
        else:
            DELIVERIES.labels(destination.name, "failed").inc()
            reason = f"digest to {destination.name} failed after {attempts} attempt(s): {last_error}"
            record["reason"] = reason
            log.warning("digest failed; sent to dead-letter topic", destination=destination.name,
                        digest=bucket.id, error=last_error)
            letter = dead_letter("notifier", reason, digest, destination=destination.name, attempts=attempts,
                                 key=bucket.id)
            await self.dead_letters.publish(self.dead_letter_topic, letter, key=bucket.id)
            DEAD_LETTERS.labels("notifier").inc()
        await self.delivered.add(key, record)
        self._buckets.pop(bucket.id, None)

    @staticmethod
    def _letter(message: Message, reason: str, destination: str | None = None,
                attempts: int | None = None) -> dict[str, Any]:
        return dead_letter_for("notifier", reason, message, destination=destination, attempts=attempts)


async def run_notifier(
    settings: Settings,
    destinations: Mapping[str, Destination],
    *,
    group: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Kafka wiring for ``wirewatch notifier``: alerts topic in, delivered log + dead letters out."""
    from wirewatch.bus.kafka import (
        KafkaPublisher,
        KafkaSubscriber,
        TopicSpec,
        ensure_topics,
        read_latest,
        standard_topics,
    )
    from wirewatch.core.reach import until_reachable

    if not settings.kafka_bootstrap:
        raise ConfigError("WIREWATCH_KAFKA_BOOTSTRAP", "the notifier needs Kafka (set host:port)")
    log_topic = settings.delivered_topic
    topics = [*standard_topics(settings), TopicSpec(log_topic, settings.topic_partitions, {"cleanup.policy": "compact"})]
    bootstrap = settings.kafka_bootstrap
    if not await until_reachable(lambda: ensure_topics(bootstrap, topics), settings, stop):
        return
    latest = await read_latest(settings.kafka_bootstrap, log_topic)
    known = done_keys(latest)
    publisher = KafkaPublisher(settings.kafka_bootstrap)
    subscriber = KafkaSubscriber(settings.kafka_bootstrap, [settings.alerts_topic],
                                 group or settings.notifier_group)
    notifier = Notifier(
        subscriber, destinations, publisher, DeliveredLog(publisher, log_topic, known),
        dead_letter_topic=settings.dead_letter_topic, records=latest,
    )
    log.info("notifier starting", destinations=sorted(destinations), delivered_known=len(known))
    try:  # what was opened is closed, however it ends (aiokafka warns about the rest)
        await publisher.start()
        await subscriber.start()
        await notifier.run(stop)
    finally:
        with contextlib.suppress(Exception):
            await subscriber.stop()
        await publisher.stop()
