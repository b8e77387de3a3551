"""Prometheus metrics shared by every service, and the ``/metrics`` endpoint.

Metric objects live here, once, so the Grafana dashboard, the tests and the
services agree on names. Every name starts with ``wirewatch_``.
"""

from __future__ import annotations

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Sources
POLLS = Counter("wirewatch_poller_polls", "Polls of a source, by outcome.", ["source", "outcome"])
ITEMS_EMITTED = Counter("wirewatch_poller_items_emitted", "Raw items emitted, by source.", ["source"])
FETCH_SECONDS = Histogram(
    "wirewatch_poller_fetch_seconds", "Time to fetch a source.", ["source"], buckets=_LATENCY_BUCKETS
)
FETCH_ERRORS = Counter("wirewatch_poller_fetch_errors", "Failed polls by source and kind.", ["source", "kind"])
# Source health (wirewatch.pollers.health; the Grafana staleness panels read these)
SOURCE_LAST_SUCCESS = Gauge(
    "wirewatch_poller_last_success_timestamp_seconds",
    "When a poll of the source last got an answer (a document or 304), epoch seconds.",
    ["source"],
)
SOURCE_LAST_ITEM = Gauge(
    "wirewatch_poller_last_item_timestamp_seconds",
    "Publication time of the newest item the source has shown, epoch seconds.",
    ["source"],
)
SOURCE_FAILURES = Gauge(
    "wirewatch_poller_consecutive_failures", "Polls of the source failed in a row (0 once one succeeds).", ["source"]
)
SOURCE_STALENESS = Gauge(
    "wirewatch_poller_staleness_ratio",
    "Time since the source's newest item / its usual gap between items (NaN until known; 3+ = quiet).",
    ["source"],
)

# Processors
ITEMS_PROCESSED = Counter("wirewatch_processor_items", "Items processed, by dedupe verdict.", ["verdict"])
ENTITIES_TAGGED = Counter("wirewatch_processor_entities", "Entities tagged, by type.", ["type"])
ALERTS_MATCHED = Counter("wirewatch_processor_alerts", "Rule matches, by rule.", ["rule"])
PROCESS_SECONDS = Histogram(
    "wirewatch_processor_latency_seconds",
    "Time from a raw message entering the bus (for stdin: being read) to its outputs being ready.",
    buckets=_LATENCY_BUCKETS,
)
RULES_LOADED = Gauge("wirewatch_processor_rules", "Alert rules currently loaded.")

# Shared
CONSUMER_LAG = Gauge("wirewatch_consumer_lag", "Messages behind the log end.", ["group", "topic", "partition"])
DEAD_LETTERS = Counter("wirewatch_dead_letters", "Messages sent to the dead-letter topic.", ["stage"])
STAGE_ITEMS = Counter("wirewatch_stage_items", "Messages handled, by pipeline stage.", ["stage"])

# Sinks
INDEXED_DOCS = Counter("wirewatch_indexer_documents", "Documents indexed, by outcome.", ["index", "outcome"])
BULK_SECONDS = Histogram(
    "wirewatch_indexer_bulk_seconds", "Elasticsearch bulk request latency.", buckets=_LATENCY_BUCKETS
)
DELIVERIES = Counter(
    "wirewatch_notifier_deliveries", "Webhook deliveries, by destination and outcome.", ["destination", "outcome"]
)
DELIVERY_SECONDS = Histogram(
    "wirewatch_notifier_delivery_seconds", "Webhook delivery latency.", ["destination"], buckets=_LATENCY_BUCKETS
)


def serve_metrics(port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> int:
    """Expose ``/metrics`` on ``host:port`` in a background thread; returns the bound port.

    Port 0 picks a free port, which tests use; services get theirs from
    ``WIREWATCH_METRICS_PORT``.
    """
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
