"""Helpers shared by the poller tests: a local HTTP site, a collecting publisher, a fast fetcher."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wirewatch.pollers.config import FetchSettings
from wirewatch.pollers.http import Fetcher, FetchPolicy
from wirewatch.pollers.poller import Poller
from wirewatch.pollers.rechecks import Recheck
from wirewatch.pollers.state import DirectoryStateStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pollers"


@dataclass
class Route:
    """One URL path: a fixed response, or ``handler(request_handler)`` for anything unusual."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.timed_requests: list[tuple[str, dict[str, str], float]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | str = b"", **kw: object) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, **kw)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                site.requests.append((self.path, headers))
                site.timed_requests.append((self.path, headers, time.monotonic()))
                route = site.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", {})
                elif route.handler is not None:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        route.handler(self)
                elif route.etag and self.headers.get("If-None-Match") == route.etag:
                    self._send(304, b"", {"ETag": route.etag})
                else:
                    extra = dict(route.headers)
                    if route.etag:
                        extra["ETag"] = route.etag
                    self._send(route.status, route.body, extra)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Collecting:
    """A Publisher that keeps what it was given, per topic."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None, Any]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        self.messages.append((topic, key, value))

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        for key, value in messages:
            await self.publish(topic, value, key)


def fast_policy(**overrides: Any) -> FetchPolicy:
    """Loopback tests: no politeness delay, short timeouts."""
    options: dict[str, Any] = {
        "user_agent": "Wirewatch-test/1",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 5.0,
        "per_host_concurrency": 32,
        "min_host_delay": 0.0,
    }
    options.update(overrides)
    return FetchPolicy(**options)


def make_poller(
    state_dir: Path,
    fetcher: Fetcher,
    publisher: Collecting | None = None,
    *,
    recheck: Recheck | None = None,
) -> tuple[Poller, Collecting]:
    publisher = publisher or Collecting()
    poller = Poller(
        state=DirectoryStateStore(state_dir),
        fetcher=fetcher,
        publisher=publisher,
        raw_topic="t.raw",
        dead_letter_topic="t.dead-letter",
        concurrency=FetchSettings().concurrency,
        recheck=recheck,
    )
    return poller, publisher


def summary(items: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    return [(i["id"], i["revision"], i["title"], i["body"]) for i in items]


