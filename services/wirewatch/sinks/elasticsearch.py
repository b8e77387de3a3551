"""Elasticsearch item store: index templates, bulk indexing, Lucene search.

Index design (see the README section "Elasticsearch index design"):

* Items go to monthly indices ``<prefix>-items-YYYY.MM`` (by ``published_at``)
  behind the read alias ``<prefix>-items``. ``_id`` is the item id and
  ``version_type=external`` with ``version = revision``: a replay or an older
  revision answers 409, which is reported as ``stale`` (never an error, never
  a duplicate), while a newer revision replaces the older one.
* ``search.*`` holds :func:`wirewatch.search.analysis.search_fields` copies
  analysed with the ``standard`` analyzer, so a query string means the same in
  Kibana, ``wirewatch search`` and the stream rule matcher, even on a node
  without analysis-common.
* ``is_story`` is true for the first item of a story: filter on it for one row
  per story while every item stays searchable.
* Where the cluster has ILM (detected with ``GET _ilm/status``) the item
  indices get a lifecycle policy (warm forcemerge, delete after retention), and
  where it has data streams (``GET _data_stream``) alerts, which are
  append-only events, go to the data stream ``<prefix>-alerts`` with
  ``op_type=create``. Without them (the minimal test node) alerts use monthly
  indices behind the alias ``<prefix>-alerts`` like items.

A node that cannot be reached is one line naming ``WIREWATCH_ELASTICSEARCH_URL``
(:class:`~wirewatch.core.reach.Unreachable`: exit 2 for ``search``, retries for
the services); the client's own retry warnings are muted while it tries.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from elastic_transport import AsyncTransport, ConnectionTimeout, SerializationError
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    BadRequestError,
    NotFoundError,
    OrjsonSerializer,
)
from elasticsearch.helpers import async_streaming_bulk

from wirewatch.core.errors import WirewatchError
from wirewatch.core.logging import get_logger, library_failures_muted
from wirewatch.core.metrics import BULK_SECONDS
from wirewatch.core.reach import Unreachable, failure_of, host_port
from wirewatch.core.retry import Backoff
from wirewatch.search.analysis import search_fields
from wirewatch.search.matcher import source_name
from wirewatch.search.query import DEFAULT_FIELDS
from wirewatch.sinks.store import (
    ALERT_TIMES,
    DELIVERY_TIMES,
    ITEM_TIMES,
    SORTS,
    IndexOutcome,
    SearchHit,
    SearchPage,
    Sort,
    StoreUnavailable,
    check_window,
    delivery_id,
    delivery_problem,
    delivery_view,
    unstorable_reason,
)

RETRY_STATUSES = (429, 500, 502, 503, 504)
#: The setting an unreachable node's line names.
URL_SETTING = "WIREWATCH_ELASTICSEARCH_URL"

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_TEXT_KW = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}
_SEARCH_TEXT = {"type": "text", "analyzer": "standard"}
_SEARCH_FIELDS = ("title", "body", "source", "entity", "tags", "language")
#: Whole normalised names for ``entity:``/``entities.name:`` (search.entity.exact) and ``source.name:``
#: (search.source_name): keyword fields holding values normalize() already made. The normalizer is
#: the identity on them and on the words to_es_query renders; it lowercases (and, with
#: analysis-common, folds) what is typed in Kibana: ``entity:"Bank of Japan"`` finds it there too.
_NAME = {**_KEYWORD, "normalizer": "lowercase"}
_FOLDED_NAME = {**_KEYWORD, "normalizer": "wirewatch_fold"}
FOLD_NORMALIZER = {"type": "custom", "filter": ["lowercase", "asciifolding", "lowercase"]}
#: Rules' short names Kibana can take as they are: aliases to the fields they search.
_ALIASES = {"entity": {"type": "alias", "path": "search.entity.exact"}, "tag": {"type": "alias", "path": "search.tags"}}
#: The fields a query_string without fields searches (Kibana's Lucene bar, a bare query):
#: the normalised title and body, as ``wirewatch search`` and rules do (DEFAULT_FIELDS).
DEFAULT_FIELD_SETTING = {"index.query.default_field": [f"search.{f}" for f in DEFAULT_FIELDS]}
#: Where analysis-common is installed (the production image), the search analyzer of ``search.*``:
#: words typed in Kibana are folded as search_fields() folded the text (``café`` finds ``cafe``).
#: Lowercase again after folding: ``ᴀ`` folds to ``A``. Identity on already normalised words, so
#: queries Wirewatch renders (to_es_query) mean the same on both nodes.
SEARCH_ANALYZER = {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding", "lowercase"]}
_DATE = {"type": "date"}
_SOURCE = {"properties": {"id": _KEYWORD, "name": _TEXT_KW}}

ITEM_PROPERTIES: dict[str, Any] = {
    "id": _KEYWORD,
    "source": _SOURCE,
    "url": _KEYWORD,
    "title": _TEXT_KW,
    "body": {"type": "text"},
    "summary": {"type": "text"},
    "published_at": _DATE,
    "updated_at": _DATE,
    "fetched_at": _DATE,
    "processed_at": _DATE,
    "authors": _KEYWORD,
    "language": _KEYWORD,
    "language_source": _KEYWORD,
    "language_score": {"type": "float"},
    "tags": _KEYWORD,
    "liveblog": {"properties": {"page_url": _KEYWORD, "block_id": _KEYWORD}},
    "revision": {"type": "integer"},
    "content_hash": _KEYWORD,
    "date_note": {"type": "text"},
    "truncated": _KEYWORD,
    "dedupe": {
        "properties": {
            "status": _KEYWORD,
            "of": _KEYWORD,
            "similarity": {"type": "float"},
            "reason": _KEYWORD,
        }
    },
    "story_id": _KEYWORD,
    "event_id": _KEYWORD,  # Kibana groups by it (README "Events")
    "event_merged": _KEYWORD,
    "is_story": {"type": "boolean"},
    "entities": {
        "properties": {
            "name": _KEYWORD,
            "type": _KEYWORD,
            "mentions": _KEYWORD,
            "count": {"type": "integer"},
            "origin": _KEYWORD,
            "ref": _KEYWORD,
        }
    },
    "alerts": {"properties": {"rule": _KEYWORD, "notify": _KEYWORD}},
    "search": {"properties": {
        **dict.fromkeys(_SEARCH_FIELDS, _SEARCH_TEXT), "entity": {**_SEARCH_TEXT, "fields": {"exact": _NAME}},
        "source_name": _NAME,
    }},
    **_ALIASES,
}

ALERT_PROPERTIES: dict[str, Any] = {
    "@timestamp": _DATE,
    "id": _KEYWORD,
    "rule": _KEYWORD,
    "query": _KEYWORD,
    "notify": _KEYWORD,
    "item_id": _KEYWORD,
    "story_id": _KEYWORD,
    "event_id": _KEYWORD,
    "per": _KEYWORD,
    "kind": _KEYWORD,  # query, spike, new_entity, silence: Kibana filters signal alerts by it
    "muted": {"properties": {"by": _KEYWORD, "name": _KEYWORD, "until": _DATE}},
    "revision": {"type": "integer"},
    "dedupe_status": _KEYWORD,
    "title": _TEXT_KW,
    "url": _KEYWORD,
    "summary": {"type": "text"},
    "source": _SOURCE,
    "entities": _KEYWORD,
    "tags": _KEYWORD,
    "published_at": _DATE,
    "matched_at": _DATE,
}


DELIVERY_PROPERTIES: dict[str, Any] = {
    "alert_id": _KEYWORD,
    "destination": _KEYWORD,
    "outcome": _KEYWORD,
    "at": _DATE,
    "attempts": {"type": "integer"},
    "rule": _KEYWORD,
    "story_id": _KEYWORD,
    "reason": {"type": "text"},
}


@dataclass(frozen=True)
class ClusterFeatures:
    """What the cluster offers beyond a core node, detected once at start."""

    ilm: bool
    data_streams: bool
    ascii_folding: bool = False  # analysis-common's asciifolding filter


def item_analysis(features: ClusterFeatures) -> tuple[dict[str, Any], dict[str, Any]]:
    """(index settings, mappings) of item indices: with asciifolding, ``search.*`` folds typed words."""
    if not features.ascii_folding:
        return {}, {"dynamic": False, "properties": ITEM_PROPERTIES}
    folded = {**_SEARCH_TEXT, "search_analyzer": "wirewatch_search"}
    search = {**dict.fromkeys(_SEARCH_FIELDS, folded), "entity": {**folded, "fields": {"exact": _FOLDED_NAME}},
              "source_name": _FOLDED_NAME}
    return (
        {"analysis": {"analyzer": {"wirewatch_search": SEARCH_ANALYZER},
                      "normalizer": {"wirewatch_fold": FOLD_NORMALIZER}}},
        {"dynamic": False, "properties": {**ITEM_PROPERTIES, "search": {"properties": search}}},
    )


def item_document(item: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a processed item: the item plus ``search``, ``is_story``, defaults."""
    doc = dict(item)
    doc.setdefault("revision", 1)
    doc.setdefault("story_id", (item.get("dedupe") or {}).get("of") or item["id"])
    doc.setdefault("event_id", doc["story_id"])  # an item processed before events: its story (events.event_key)
    doc["is_story"] = doc["story_id"] == item["id"]
    # no empty strings: Elasticsearch counts "" as a value, so title:* would match an item
    # without a title where the matcher (and a reader) says it has none
    doc["search"] = {field: value for field, value in search_fields(item).items() if value}
    name = source_name(item)
    if name:
        doc["search"]["source_name"] = name
    return doc


def month_suffix(timestamp: str) -> str:
    """``2025-03-04T10:00:00Z`` -> ``2025.03`` (falls back to the current month if unparsable)."""
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        when = datetime.now(UTC)
    return f"{when.year:04d}.{when.month:02d}"


def shown_url(url: str) -> str:
    """The URL without credentials (``http://user:secret@host:9200`` -> ``http://host:9200``), for a log line."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()


async def elasticsearch_unreachable(url: str, exc: Exception) -> Unreachable:
    """The one line for a failed request: the TCP reason, else the client's (TLS, a proxy hanging up...)."""
    host, port = host_port(urlsplit(url if "://" in url else f"http://{url}").netloc.rpartition("@")[2], 9200)
    reason = await failure_of([(host, port)])
    if reason is None:
        reason = "no answer in time" if isinstance(exc, ConnectionTimeout) else _client_reason(exc)
    return Unreachable("Elasticsearch", URL_SETTING, shown_url(url), reason)


def _client_reason(exc: Exception) -> str:
    """elastic_transport's ``Connection error caused by: X(Y(...))``, cut to its innermost words."""
    text = str(getattr(exc, "message", "") or exc)
    inner = text.rsplit("caused by: ", 1)[-1]
    return inner.strip(" ()")[:200] or type(exc).__name__


class QuietTransport(AsyncTransport):
    """The client's transport, its warnings about failed attempts (one with a traceback) at DEBUG.

    Each attempt that fails is retried by the transport; the request then succeeds, or
    fails with an exception this store reports in one line (:class:`Unreachable`,
    :class:`StoreUnavailable`): the warnings would only say it first, three times over.
    """

    # AsyncTransport overrides the sync Transport's method the same way (elastic_transport's own ignore)
    async def perform_request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with library_failures_muted():
            return await super().perform_request(*args, **kwargs)


def _first_node_url(client: AsyncElasticsearch) -> str:
    """A client's first node (a store built around a given client), for the unreachable line."""
    try:
        return str(client.transport.node_pool.all()[0].base_url)
    except (AttributeError, IndexError):
        return "Elasticsearch"


def _reason(error: Any) -> str:
    """One line out of an Elasticsearch bulk item error."""
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error)


class ElasticsearchStore:
    """:class:`~wirewatch.sinks.store.ItemStore` on Elasticsearch (async client, bulk helpers)."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        prefix: str,
        *,
        retention: timedelta | None = timedelta(days=365),
        max_retries: int = 5,
        backoff: Backoff | None = None,
        url: str | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        #: what the client was opened on (from_url), for the line when it can't be reached
        self.url = url or _first_node_url(client)
        self.items_alias = f"{prefix}-items"
        self.alerts_alias = f"{prefix}-alerts"
        self.deliveries_index = f"{prefix}-deliveries"
        self.retention = retention
        self.max_retries = max_retries
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.features = ClusterFeatures(ilm=False, data_streams=False)
        self._log = get_logger("sinks.elasticsearch")

    @classmethod
    def from_url(cls, url: str, prefix: str, **kwargs: Any) -> ElasticsearchStore:
        # orjson for request bodies: the client's default (stdlib json) was 31% of the indexer's
        # CPU (py-spy, bench/README.md "The Faust path"); same documents
        # (tests/sinks/test_elastic_store.py::test_bodies_are_serialised_with_orjson)
        client = AsyncElasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=2,
                                    serializer=OrjsonSerializer(), transport_class=QuietTransport)
        return cls(client, prefix, url=url, **kwargs)

    # -- set-up -------------------------------------------------------------

    async def detect_features(self) -> ClusterFeatures:
        """ILM and data streams are x-pack features, asciifolding is analysis-common's: a core
        node answers 4xx to the three probes."""
        return ClusterFeatures(
            ilm=await self._probe(self.client.ilm.get_status),
            data_streams=await self._probe(self.client.indices.get_data_stream, name="*"),
            ascii_folding=await self._probe(
                self.client.indices.analyze, tokenizer="standard", filter=["asciifolding"], text="café"
            ),
        )

    @staticmethod
    async def _probe(call: Any, **kwargs: Any) -> bool:
        try:
            await call(**kwargs)
        except (NotFoundError, BadRequestError):
            return False
        except ApiError as exc:
            if 400 <= exc.meta.status < 500 or exc.meta.status == 500:
                return False
            raise
        return True

    async def setup(self) -> None:
        """Install the templates (and ILM policies where available); idempotent.

        The first request of every service: :class:`Unreachable` when the node can't be reached.
        """
        try:
            self.features = await self.detect_features()
            items_settings: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
            alerts_settings = dict(items_settings)
            if self.features.ilm:
                await self._put_ilm_policies()
                items_settings["index.lifecycle.name"] = f"{self.prefix}-items"
                alerts_settings["index.lifecycle.name"] = f"{self.prefix}-alerts"
            analysis, items_mappings = item_analysis(self.features)
            await self.client.indices.put_index_template(
                name=f"{self.prefix}-items",
                index_patterns=[f"{self.prefix}-items-*"],
                priority=200,
                template={
                    "settings": {**items_settings, **analysis, **DEFAULT_FIELD_SETTING},
                    "mappings": items_mappings,
                    "aliases": {self.items_alias: {}},
                },
                meta={"managed_by": "wirewatch"},
            )
            alerts_template: dict[str, Any] = {
                "settings": alerts_settings,
                "mappings": {"dynamic": False, "properties": ALERT_PROPERTIES},
            }
            if self.features.data_streams:
                await self.client.indices.put_index_template(
                    name=f"{self.prefix}-alerts",
                    index_patterns=[self.alerts_alias],
                    priority=200,
                    data_stream={},
                    template=alerts_template,
                    meta={"managed_by": "wirewatch"},
                )
            else:
                alerts_template["aliases"] = {self.alerts_alias: {}}
                await self.client.indices.put_index_template(
                    name=f"{self.prefix}-alerts",
                    index_patterns=[f"{self.prefix}-alerts-*"],
                    priority=200,
                    template=alerts_template,
                    meta={"managed_by": "wirewatch"},
                )
            await self.client.indices.put_index_template(
                name=self.deliveries_index,
                index_patterns=[self.deliveries_index],
                priority=200,
                template={"settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                          "mappings": {"dynamic": False, "properties": DELIVERY_PROPERTIES}},
                meta={"managed_by": "wirewatch"},
            )
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise await elasticsearch_unreachable(self.url, exc) from None
        self._log.info("templates installed", prefix=self.prefix, ilm=self.features.ilm,
                       data_streams=self.features.data_streams, ascii_folding=self.features.ascii_folding)

    async def _put_ilm_policies(self) -> None:
        delete = (
            {"delete": {"min_age": f"{int(self.retention.total_seconds())}s", "actions": {"delete": {}}}}
            if self.retention
            else {}
        )
        # Items: one index per month, so no rollover; age them out.
        await self.client.ilm.put_lifecycle(
            name=f"{self.prefix}-items",
            policy={
                "phases": {
                    "hot": {"actions": {"set_priority": {"priority": 100}}},
                    "warm": {"min_age": "35d", "actions": {"forcemerge": {"max_num_segments": 1},
                                                          "set_priority": {"priority": 50}}},
                    **delete,
                }
            },
        )
        # Alerts: a data stream, rolled over by ILM.
        await self.client.ilm.put_lifecycle(
            name=f"{self.prefix}-alerts",
            policy={
                "phases": {
                    "hot": {"actions": {"rollover": {"max_age": "30d", "max_primary_shard_size": "50gb"}}},
                    **delete,
                }
            },
        )

    async def close(self) -> None:
        await self.client.close()

    # -- indexing -----------------------------------------------------------

    def item_action(self, item: dict[str, Any]) -> dict[str, Any]:
        doc = item_document(item)
        return {
            "_op_type": "index",
            "_index": f"{self.items_alias}-{month_suffix(doc['published_at'])}",
            "_id": doc["id"],
            "version": doc["revision"],
            "version_type": "external",
            "_source": doc,
        }

    def alert_action(self, alert: dict[str, Any]) -> dict[str, Any]:
        """``create``: an alert is the immutable record of what was sent; a later one with its id
        answers 409 and is counted ``duplicate``."""
        doc = dict(alert)
        if self.features.data_streams:
            doc["@timestamp"] = alert["matched_at"]
            return {"_op_type": "create", "_index": self.alerts_alias, "_id": alert["id"], "_source": doc}
        return {
            "_op_type": "create",
            "_index": f"{self.alerts_alias}-{month_suffix(alert['matched_at'])}",
            "_id": alert["id"],
            "_source": doc,
        }

    def delivery_action(self, record: dict[str, Any]) -> dict[str, Any]:
        """``index`` by (destination, alert, outcome): a repeated outcome keeps its latest time.

        The ``_id`` is a hash of that key: alert ids carry feed text of any length (``_id`` <= 512 bytes).
        """
        key = delivery_id(record)
        return {
            "_op_type": "index",
            "_index": self.deliveries_index,
            "_id": hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest(),
            "_source": dict(record),
        }

    async def index_items(self, items: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        return await self._bulk_each(items, ITEM_TIMES, self.item_action)

    async def index_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Create each alert unless its id is stored already (in any monthly index: a story's
        duplicate may be matched a month later), so the first alert stays the record."""
        taken = await self._stored_alert_ids([str(a.get("id", "")) for a in alerts])
        first: list[bool] = []
        for alert in alerts:  # an id twice in one batch: the first is sent, the second is a duplicate
            alert_id = str(alert.get("id", ""))
            first.append(alert_id not in taken)
            taken.add(alert_id)
        fresh = [a for a, is_first in zip(alerts, first, strict=True) if is_first]
        sent = iter(await self._bulk_each(fresh, ALERT_TIMES, self.alert_action, conflict="duplicate"))
        return [next(sent) if is_first else IndexOutcome(str(a.get("id", "")), "duplicate")
                for a, is_first in zip(alerts, first, strict=True)]

    async def _stored_alert_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` an alert index already holds."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return set()
        try:
            response = await self.client.search(
                index=self.alerts_alias, query={"ids": {"values": wanted}}, size=len(wanted),
                source=False, ignore_unavailable=True, allow_no_indices=True,
            )
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(str(await elasticsearch_unreachable(self.url, exc))) from exc
        except ApiError as exc:
            if exc.meta.status in RETRY_STATUSES:
                raise StoreUnavailable(f"Elasticsearch answered {exc.meta.status}") from exc
            raise
        return {str(hit["_id"]) for hit in response["hits"]["hits"]}

    async def index_deliveries(self, deliveries: Sequence[dict[str, Any]]) -> list[IndexOutcome]:
        """Delivery records (schemas/delivery.json) into ``<prefix>-deliveries``."""
        early: list[IndexOutcome | None] = []
        valid: list[dict[str, Any]] = []
        for record in deliveries:
            problem = delivery_problem(record)
            early.append(IndexOutcome(delivery_id(record), "rejected", problem) if problem else None)
            if problem is None:
                valid.append(record)
        sent = iter(await self._bulk_each(valid, DELIVERY_TIMES, self.delivery_action))
        keyed = (IndexOutcome(delivery_id(r), o.status, o.reason) for r, o in zip(valid, sent, strict=True))
        return [outcome or next(keyed) for outcome in early]

    async def _bulk_each(
        self, docs: Sequence[dict[str, Any]], times: Sequence[str],
        action_for: Callable[[dict[str, Any]], dict[str, Any]],
        conflict: Literal["stale", "duplicate"] = "stale",
    ) -> list[IndexOutcome]:
        """One outcome per document: what can't be sent is rejected here, the rest goes in one bulk.

        A bulk request is all-or-nothing for what breaks its framing: a version beyond a long
        (a 400 for the whole request) or a value the serialiser refuses (an exception before
        sending). So each ``_source`` is serialised here, one document at a time, with the
        client's own serialiser (the bulk helper sends bytes as they are: no second pass).
        """
        serializer = self.client.transport.serializers.get_serializer("application/json")
        to_json = getattr(serializer, "json_dumps", serializer.dumps)  # the bare error, not the doc's repr
        early: list[IndexOutcome | None] = []
        actions: list[dict[str, Any]] = []
        for doc in docs:
            doc_id = str(doc.get("id", ""))
            reason = unstorable_reason(doc, times)
            if reason is None:
                try:
                    action = action_for(doc)
                    action["_source"] = to_json(action["_source"])
                except (TypeError, ValueError, SerializationError) as exc:
                    reason = f"cannot be written as JSON: {exc}"
            if reason is not None:
                early.append(IndexOutcome(doc_id, "rejected", reason))
                continue
            early.append(None)
            actions.append(action)
        sent = iter(await self._bulk(actions, conflict))
        return [outcome or next(sent) for outcome in early]

    async def _bulk(self, actions: list[dict[str, Any]],
                    conflict: Literal["stale", "duplicate"] = "stale") -> list[IndexOutcome]:
        """Bulk with per-document retries on 429/5xx; 409 = stale; other errors = rejected.

        Documents answered 429/5xx are sent again after :attr:`backoff`, up to
        :attr:`max_retries` times, then the whole batch counts as unavailable. A
        connection failure raises :class:`StoreUnavailable` (the indexer retries
        the whole batch: external versions make that idempotent).
        """
        if not actions:
            return []
        outcomes: dict[str, IndexOutcome] = {}
        pending, last_error = actions, ""
        started = time.perf_counter()
        try:
            for attempt in range(self.max_retries + 1):
                if not pending:
                    break
                if attempt:
                    await self.backoff.sleep(attempt - 1)
                pending, last_error = await self._bulk_once(pending, outcomes, conflict)
            if pending:
                raise StoreUnavailable(f"Elasticsearch kept answering {last_error}")
        finally:
            BULK_SECONDS.observe(time.perf_counter() - started)
        return [outcomes.get(str(a["_id"]), IndexOutcome(str(a["_id"]), "rejected", "no bulk response"))
                for a in actions]

    async def _bulk_once(
        self, actions: list[dict[str, Any]], outcomes: dict[str, IndexOutcome],
        conflict: Literal["stale", "duplicate"] = "stale",
    ) -> tuple[list[dict[str, Any]], str]:
        """One bulk request: records final outcomes, returns the actions to send again and why."""
        by_id = {str(a["_id"]): a for a in actions}
        again: list[dict[str, Any]] = []
        why = ""
        try:
            async for ok, result in async_streaming_bulk(
                self.client,
                actions,
                chunk_size=500,
                max_retries=0,
                raise_on_error=False,
                raise_on_exception=True,
                yield_ok=True,
            ):
                _op, info = next(iter(result.items()))
                doc_id = str(info.get("_id"))
                status = int(info.get("status", 0))
                if ok:
                    outcomes[doc_id] = IndexOutcome(doc_id, "indexed")
                elif status == 409:
                    outcomes[doc_id] = IndexOutcome(doc_id, conflict)
                elif status in RETRY_STATUSES and doc_id in by_id:
                    again.append(by_id[doc_id])
                    why = f"{status}: {_reason(info.get('error'))}"
                else:
                    outcomes[doc_id] = IndexOutcome(doc_id, "rejected", _reason(info.get("error")))
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailable(str(await elasticsearch_unreachable(self.url, exc))) from exc
        except ApiError as exc:
            if exc.meta.status not in RETRY_STATUSES:
                raise
            return actions, f"{exc.meta.status}: {exc}"
        return again, why

    async def refresh(self) -> None:
        """Make everything indexed so far searchable (tests, backtests)."""
        await self.client.indices.refresh(index=f"{self.prefix}-*", ignore_unavailable=True,
                                          allow_no_indices=True)

    # -- reading ------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        since: timedelta | None = None,
        until: datetime | None = None,
        limit: int = 20,
        stories_only: bool = False,
    ) -> list[SearchHit]:
        start = datetime.now(UTC) - since if since is not None else None
        response = await self._search(query, start, until, stories_only, size=limit)
        return _hits(response)

    async def search_page(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 20,
        sort: Sort = "newest",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SearchPage:
        """One page with the exact total (``track_total_hits``); ``relevance`` is Elasticsearch's
        ``_score`` (BM25 over ``search.title`` and ``search.body``), then newest."""
        check_window(offset, limit)
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)} (got {sort!r})")
        first = [{"_score": {"order": "desc"}}] if sort == "relevance" else []
        response = await self._search(query, since, until, False, size=limit, offset=offset, first_sort=first)
        return SearchPage(int(response["hits"]["total"]["value"]), _hits(response))

    async def _search(
        self,
        query: str,
        since: datetime | None,
        until: datetime | None,
        stories_only: bool,
        *,
        size: int,
        offset: int = 0,
        first_sort: list[dict[str, Any]] | None = None,
    ) -> Any:
        filters: list[dict[str, Any]] = []
        if since is not None or until is not None:
            window: dict[str, Any] = {}
            if since is not None:
                window["gte"] = since.astimezone(UTC).isoformat()
            if until is not None:
                window["lte"] = until.astimezone(UTC).isoformat()
            filters.append({"range": {"published_at": window}})
        if stories_only:
            filters.append({"term": {"is_story": True}})
        from wirewatch.search.query import to_es_query

        body_query: dict[str, Any] = {"bool": {"must": [to_es_query(query)], "filter": filters}}
        try:
            return await self.client.search(
                index=self.items_alias,
                query=body_query,
                sort=[*(first_sort or []), {"published_at": {"order": "desc"}}, {"id": {"order": "asc"}}],
                size=size,
                from_=offset,
                track_total_hits=True,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except BadRequestError as exc:
            raise WirewatchError(f"query rejected by Elasticsearch: {_reason(exc.info.get('error') if isinstance(exc.info, dict) else exc)}") from None
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise await elasticsearch_unreachable(self.url, exc) from None

    async def count(self) -> int:
        response = await self.client.count(index=self.items_alias, ignore_unavailable=True,
                                           allow_no_indices=True)
        return int(response["count"])

    async def story_count(self) -> int:
        """Stories stored: the items that are their story's first (``is_story``), as the SQLite
        store counts distinct story ids. The page's counts line."""
        response = await self.client.count(index=self.items_alias, query={"term": {"is_story": True}},
                                           ignore_unavailable=True, allow_no_indices=True)
        return int(response["count"])

    async def alert_history(self, limit: int = 50, offset: int = 0, rule: str | None = None) -> list[dict[str, Any]]:
        """Stored alerts newest first (by ``matched_at``), each with ``deliveries``:
        ``[{destination, outcome, at, attempts?}]`` in time order. The alert-history page."""
        query: dict[str, Any] = {"term": {"rule": rule}} if rule is not None else {"match_all": {}}
        try:
            response = await self.client.search(
                index=self.alerts_alias, query=query, from_=max(offset, 0), size=max(limit, 0),
                sort=[{"matched_at": {"order": "desc"}}, {"id": {"order": "desc"}}],
                ignore_unavailable=True, allow_no_indices=True,
            )
            alerts = [{k: v for k, v in h["_source"].items() if k != "@timestamp"}
                      for h in response["hits"]["hits"]]
            by_alert: dict[str, list[dict[str, Any]]] = {a["id"]: [] for a in alerts}
            if by_alert:
                found = await self.client.search(
                    index=self.deliveries_index, query={"terms": {"alert_id": list(by_alert)}},
                    sort=[{"at": {"order": "asc"}}, {"destination": {"order": "asc"}}],
                    size=10_000, ignore_unavailable=True, allow_no_indices=True,
                )
                for hit in found["hits"]["hits"]:
                    record = hit["_source"]
                    by_alert.get(record.get("alert_id", ""), []).append(delivery_view(record))
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise await elasticsearch_unreachable(self.url, exc) from None
        return [{**alert, "deliveries": by_alert[alert["id"]]} for alert in alerts]

    async def alert_total(self, rule: str | None = None) -> int:
        """Alerts stored (of ``rule``): the count the page and the status line show."""
        query: dict[str, Any] = {"term": {"rule": rule}} if rule is not None else {"match_all": {}}
        try:
            response = await self.client.count(index=self.alerts_alias, query=query,
                                               ignore_unavailable=True, allow_no_indices=True)
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise await elasticsearch_unreachable(self.url, exc) from None
        return int(response["count"])

    async def delivery_counts(self) -> dict[str, int]:
        """Delivery records by outcome (``delivered`` = webhooks the destinations accepted)."""
        response = await self.client.search(
            index=self.deliveries_index, size=0, ignore_unavailable=True, allow_no_indices=True,
            aggs={"outcomes": {"terms": {"field": "outcome", "size": 10}}},
        )
        buckets = response.get("aggregations", {}).get("outcomes", {}).get("buckets", [])
        return {str(b["key"]): int(b["doc_count"]) for b in buckets}

    async def installed_mapping(self, alias: str) -> dict[str, Any]:
        """Field properties of the indices behind ``alias`` (merged), for checks."""
        response = await self.client.indices.get_mapping(index=alias)
        merged: dict[str, Any] = {}
        for index in response.body.values():
            merged.update(index["mappings"].get("properties", {}))
        return merged


def _hits(response: Any) -> list[SearchHit]:
    return [
        SearchHit(id=h["_id"], published_at=h["_source"].get("published_at", ""), document=h["_source"])
        for h in response["hits"]["hits"]
    ]


def field_paths(properties: dict[str, Any], prefix: str = "") -> Iterable[str]:
    """Every field path in a mapping, sub-fields included (``title``, ``title.keyword``...)."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "type" in spec or "properties" not in spec:
            yield path
        if "properties" in spec:
            yield from field_paths(spec["properties"], f"{path}.")
        for sub in spec.get("fields", {}):
            yield f"{path}.{sub}"
