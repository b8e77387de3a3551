"""Digests: the alerts of one period for one destination, grouped by event, as one message.

An alert bound for a digest (``digest:`` on its rule or on the destination) is not sent on
its own: the notifier records it (outcome ``digested``, with the :func:`entry` the digest
needs) and adds it to the open :class:`Bucket` of its period. At the period's end the bucket
becomes one digest (``schemas/digest.json``, built by :func:`build_digest`) rendered for
the destination's format by :func:`wirewatch.sinks.destinations.render_digest`.

* Digest id: ``digest:<destination>:<period start>`` (``digest:<destination>:<rule>:<period
  start>`` for a rule's digest): the ``Idempotency-Key`` of the request and the delivered
  log's key, so a digest is sent once, and at most re-sent with the same key after a crash
  between the 2xx and the record.
* Grouping: by ``event_id`` (the item's event, falling back to its ``story_id``), with the
  count of alerts and the outlets (source names); newest event first; after ``max_items``
  events the rest is counted as ``more`` ("and N more").
* An empty period sends nothing (no bucket is ever opened for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wirewatch.core.schemas import event_key
from wirewatch.core.times import parse_rfc3339, rfc3339

#: outcomes that close a digest: it is not sent again after a restart
CLOSED = frozenset({"delivered", "dead-lettered"})


def digest_id(destination: str, start: datetime, rule: str | None = None) -> str:
    """``digest:<destination>[:<rule>]:<period start>``: the digest's idempotency key."""
    scope = destination if rule is None else f"{destination}:{rule}"
    return f"digest:{scope}:{rfc3339(start)}"


def entry(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What a digest keeps of one alert (stored in its ``digested`` delivery record)."""
    source = alert.get("source") or {}
    return {
        "alert_id": str(alert["id"]), "event_id": event_key(alert), "rule": str(alert.get("rule", "")),
        "title": str(alert.get("title", "")), "url": str(alert.get("url", "")),
        "outlet": str(source.get("name") or source.get("id") or "?"), "matched_at": str(alert["matched_at"]),
    }


@dataclass
class Bucket:
    """The open digest of one destination (and rule) for one period."""

    id: str
    destination: str
    start: datetime
    end: datetime
    max_items: int
    rule: str | None = None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # alert id -> entry

    def meta(self) -> dict[str, Any]:
        """The ``digest`` object of the delivery records (enough to rebuild the bucket)."""
        meta: dict[str, Any] = {"id": self.id, "start": rfc3339(self.start), "end": rfc3339(self.end),
                                "max_items": self.max_items}
        if self.rule is not None:
            meta["rule"] = self.rule
        return meta

    @classmethod
    def from_meta(cls, destination: str, meta: Mapping[str, Any]) -> Bucket:
        return cls(str(meta["id"]), destination, parse_rfc3339(meta["start"]), parse_rfc3339(meta["end"]),
                   int(meta["max_items"]), meta.get("rule"))


def build_digest(bucket: Bucket) -> dict[str, Any]:
    """The ``schemas/digest.json`` payload of a bucket."""
    events: dict[str, dict[str, Any]] = {}
    for item in sorted(bucket.entries.values(), key=lambda e: (e["matched_at"], e["alert_id"])):
        event = events.get(item["event_id"])
        if event is None:  # the first alert of the event names it
            event = events[item["event_id"]] = {
                "event_id": item["event_id"], "title": item["title"], "url": item["url"], "count": 0,
                "outlets": [], "rules": [], "first_matched_at": item["matched_at"],
            }
        event["count"] += 1
        event["last_matched_at"] = item["matched_at"]
        for key, value in (("outlets", item["outlet"]), ("rules", item["rule"])):
            if value and value not in event[key]:
                event[key].append(value)
    newest = sorted(events.values(), key=lambda e: (e["last_matched_at"], e["event_id"]), reverse=True)
    digest: dict[str, Any] = {
        "id": bucket.id, "destination": bucket.destination,
        "period_start": rfc3339(bucket.start), "period_end": rfc3339(bucket.end),
        "alerts": len(bucket.entries), "events_total": len(newest),
        "events": newest[:bucket.max_items], "more": max(0, len(newest) - bucket.max_items),
    }
    if bucket.rule is not None:
        digest["rule"] = bucket.rule
    return digest


def restore(records: Mapping[str, Any], destinations: Iterable[str]) -> dict[str, Bucket]:
    """The open buckets in a delivered log's latest records (key -> record).

    A ``digested`` record names its digest and carries its entry; a digest with its own record
    (key ``<destination>|<digest id>``: delivered, or dead-lettered after its retries) is closed,
    so its entries are dropped.
    """
    wanted = set(destinations)
    sent = {key for key, r in records.items() if isinstance(r, dict) and r.get("outcome") in CLOSED
            and str(r.get("alert_id", "")).startswith("digest:")}
    buckets: dict[str, Bucket] = {}
    for record in records.values():
        if not isinstance(record, dict) or record.get("outcome") != "digested":
            continue
        name, meta, item = record.get("destination"), record.get("digest"), record.get("entry")
        if name not in wanted or not isinstance(meta, dict) or not isinstance(item, dict):
            continue
        if f"{name}|{meta['id']}" in sent:
            continue
        bucket = buckets.get(meta["id"])
        if bucket is None:
            bucket = buckets[meta["id"]] = Bucket.from_meta(str(name), meta)
        bucket.entries[item["alert_id"]] = item
    return buckets
