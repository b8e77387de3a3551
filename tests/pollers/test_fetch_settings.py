"""Per-source fetch settings (README "Per-source fetch settings"), against real local servers.

A real aiohttp server records every request it receives; a tiny real HTTP proxy (loopback
only, written below) records and forwards. Each setting is checked where it lands: on the
wire, in the logs, in dead letters, in the outcome of a poll.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from wirewatch.core.errors import SchemaError
from wirewatch.core.logging import configure_logging
from wirewatch.core.schemas import validate
from wirewatch.pollers import poller as poller_module
from wirewatch.pollers.config import Source, load_sources
from wirewatch.pollers.http import Fetcher

from .helpers import fast_policy, make_poller

SECRET = "s3cr3t-Cookie-Value-9f27"
RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Publisher X</title><link>https://publisher.example/</link>
<item><guid>{guid}</guid><title>Port strike enters third day</title>
<link>https://publisher.example/port-strike</link>
<description>Dockers stayed out for a third day.</description>
<pubDate>Fri, 04 Dec 2026 09:00:00 GMT</pubDate></item>
</channel></rss>
"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]


@dataclass
class Publisher:
    """A real aiohttp site on 127.0.0.1 that records what each request carried."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0
    """Seconds the ``/slow`` route waits before answering."""

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.received]

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, {k.lower(): v for k, v in request.headers.items()}))
        if request.path.startswith("/slow"):
            await asyncio.sleep(self.delay)
        return web.Response(body=RSS.format(guid=f"px{request.path}").encode(), content_type="application/rss+xml")


@pytest.fixture
async def publisher() -> AsyncIterator[Publisher]:
    site = Publisher()
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.port = runner.addresses[0][1]
    try:
        yield site
    finally:
        await runner.cleanup()


@dataclass
class Proxy:
    """A forward HTTP proxy for ``http://`` URLs, loopback targets only: records, then forwards."""

    port: int = 0
    requests: list[str] = field(default_factory=list)
    """Request lines received, e.g. ``GET http://127.0.0.1:8080/feed.xml HTTP/1.1``."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            while True:  # httpx keeps the connection to its proxy alive: one request after another
                try:
                    head = await client_r.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *header_lines = head.decode("latin-1").split("\r\n")
                self.requests.append(line)
                method, target, version = line.split(" ")
                parts = urlsplit(target)
                if parts.hostname != "127.0.0.1" or parts.scheme != "http":
                    client_w.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    await client_w.drain()
                    continue
                kept = [h for h in header_lines if h and not h.lower().startswith(("connection:", "proxy-"))]
                origin_r, origin_w = await asyncio.open_connection("127.0.0.1", parts.port)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                origin_w.write(f"{method} {path} {version}\r\n".encode("latin-1"))
                origin_w.write(("\r\n".join([*kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))
                await origin_w.drain()
                response = await origin_r.read()
                origin_w.close()
                client_w.write(response)
                await client_w.drain()
        finally:
            client_w.close()


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    recorder = Proxy()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    try:
        yield recorder
    finally:
        server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line at debug level, the libraries' (httpx, httpcore, aiohttp) included."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    try:
        yield buffer
    finally:
        configure_logging()


def sources_file(tmp_path: Path, body: str) -> list[Source]:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + body)
    return load_sources(path).sources


# --- what arrives on the wire -------------------------------------------------------------


async def test_user_agent_headers_and_cookies_arrive_exactly(
    publisher: Publisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHER_SESSION", SECRET)
    monkeypatch.setenv("PUBLISHER_CONSENT", "yes")
    picky, plain = sources_file(tmp_path, f"""\
  - id: publisher-x
    url: {publisher.url("/picky.xml")}
    user_agent: "Wirewatch (desk@newsroom.example)"
    headers: {{X-Desk: world, Accept-Language: "fr-CH, fr;q=0.9"}}
    cookies:
      session: {{env: PUBLISHER_SESSION}}
      consent: {{env: PUBLISHER_CONSENT}}
  - id: plain
    url: {publisher.url("/plain.xml")}
""")
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        assert [r.outcome for r in await poller.poll_once([picky, plain])] == ["ok", "ok"]
    by_path = {r.path: r.headers for r in publisher.received}
    got = by_path["/picky.xml"]
    assert got["user-agent"] == "Wirewatch (desk@newsroom.example)"
    assert got["x-desk"] == "world"
    assert got["accept-language"] == "fr-CH, fr;q=0.9"
    assert got["cookie"] == f"session={SECRET}; consent=yes"
    assert got["accept-encoding"] == "gzip, deflate, br"  # the fetcher's own headers stay
    other = by_path["/plain.xml"]
    assert other["user-agent"] == "Wirewatch-test/1"  # the global user agent
    assert "cookie" not in other and "x-desk" not in other


async def test_cookie_value_never_in_logs_dead_letters_or_the_model(
    publisher: Publisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO, closed_port: int
) -> None:
    """The poller's own items always match the schema, so the dead-letter path is taken by making
    the raw-item check refuse the second source's items (the real check runs for the others)."""
    monkeypatch.setenv("PUBLISHER_SESSION", SECRET)

    def refuse_bad_item(schema: Literal["raw_item"], item: dict[str, object]) -> None:
        if "bad-item" in str(item.get("url", "")) + str(item.get("id", "")):
            raise SchemaError(schema, "id", "refused for this test")
        validate(schema, item)

    monkeypatch.setattr(poller_module, "validate", refuse_bad_item)
    good, bad_item, unreachable = sources_file(tmp_path, f"""\
  - id: publisher-x
    url: {publisher.url("/feed.xml")}
    cookies: {{session: {{env: PUBLISHER_SESSION}}}}
  - id: publisher-x-bad-item
    url: {publisher.url("/bad-item.xml")}
    cookies: {{session: {{env: PUBLISHER_SESSION}}}}
  - id: publisher-x-down
    url: http://127.0.0.1:{closed_port}/feed.xml
    cookies: {{session: {{env: PUBLISHER_SESSION}}}}
""")
    async with Fetcher(fast_policy()) as fetcher:
        poller, collected = make_poller(tmp_path / "state", fetcher)
        results = await poller.poll_once([good, bad_item, unreachable])
    assert [r.outcome for r in results] == ["ok", "ok", "network"]
    assert publisher.received[0].headers["cookie"] == f"session={SECRET}"  # it was sent
    dead = [value for topic, _, value in collected.messages if topic == "t.dead-letter"]
    assert [d["reason"] for d in dead] == ["not a valid raw_item at id: refused for this test"]
    assert SECRET not in json.dumps(dead)
    text = logs.getvalue()
    assert '"event":"item_dead_lettered"' in text.replace(" ", "") and "publisher-x-down" in text
    assert SECRET not in text
    assert SECRET not in repr(good) + good.model_dump_json() + repr(good.fetch_settings)


async def test_cookies_stay_with_their_host_across_redirects(
    publisher: Publisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect to another host gets the user agent and headers, never the cookie."""
    monkeypatch.setenv("PUBLISHER_SESSION", SECRET)
    app = web.Application()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(publisher.url("/moved.xml", host="localhost"))

    app.router.add_get("/feed.xml", moved)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        (source,) = sources_file(tmp_path, f"""\
  - id: publisher-x
    url: http://127.0.0.1:{port}/feed.xml
    user_agent: Wirewatch-desk/2
    headers: {{X-Desk: world}}
    cookies: {{session: {{env: PUBLISHER_SESSION}}}}
""")
        async with Fetcher(fast_policy()) as fetcher:
            poller, _ = make_poller(tmp_path / "state", fetcher)
            assert (await poller.poll_source(source)).outcome == "ok"
    finally:
        await runner.cleanup()
    (hop,) = publisher.received
    assert (hop.path, hop.headers["user-agent"], hop.headers["x-desk"]) == ("/moved.xml", "Wirewatch-desk/2", "world")
    assert "cookie" not in hop.headers


# --- proxies ---------------------------------------------------------------------------------


async def test_proxy_is_used_by_the_source_that_names_it_only(
    publisher: Publisher, proxy: Proxy, tmp_path: Path, closed_port: int, logs: io.StringIO
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port}"
    proxied, also_proxied, direct, refused = sources_file(tmp_path, f"""\
  - id: via-proxy
    url: {publisher.url("/via-proxy.xml")}
    proxy: {proxy.url}
  - id: via-proxy-too
    url: {publisher.url("/via-proxy-too.xml")}
    proxy: {proxy.url}
  - id: direct
    url: {publisher.url("/direct.xml")}
  - id: behind-dead-proxy
    url: {publisher.url("/never.xml")}
    proxy: {dead_proxy}
""")
    async with Fetcher(fast_policy()) as fetcher:
        poller, collected = make_poller(tmp_path / "state", fetcher)
        results = await poller.poll_once([proxied, also_proxied, direct, refused])
        pools = fetcher.proxies
    assert [r.outcome for r in results] == ["ok", "ok", "ok", "proxy"]
    assert results[3].reason.startswith(f"proxy {dead_proxy} failed: ConnectError")
    assert sorted(proxy.requests) == [
        f"GET {publisher.url('/via-proxy-too.xml')} HTTP/1.1",
        f"GET {publisher.url('/via-proxy.xml')} HTTP/1.1",
    ]
    assert sorted(publisher.paths()) == ["/direct.xml", "/via-proxy-too.xml", "/via-proxy.xml"]
    assert pools == sorted([proxy.url, dead_proxy])  # one pool per distinct proxy, shared by sources
    assert {key for topic, key, _ in collected.messages} == {"via-proxy", "via-proxy-too", "direct"}
    failed = [json.loads(line) for line in logs.getvalue().splitlines() if '"source_failed"' in line]
    assert [(f["source"], f["kind"]) for f in failed] == [("behind-dead-proxy", "proxy")]
    assert dead_proxy in failed[0]["reason"] and "Traceback" not in logs.getvalue()


async def test_proxy_password_is_not_logged(
    publisher: Publisher, tmp_path: Path, closed_port: int, logs: io.StringIO
) -> None:
    (source,) = sources_file(tmp_path, f"""\
  - id: behind-dead-proxy
    url: {publisher.url("/never.xml")}
    proxy: http://desk:hunter2@127.0.0.1:{closed_port}
""")
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        result = await poller.poll_source(source)
    assert result.reason.startswith(f"proxy http://***@127.0.0.1:{closed_port} failed: ")
    assert "hunter2" not in logs.getvalue() + result.reason


# --- per-source timeout and politeness ------------------------------------------------------


async def test_per_source_timeout_overrides_the_global_one_both_ways(publisher: Publisher, tmp_path: Path) -> None:
    """Global budget 0.5 s; the /slow route answers after 1.5 s."""
    publisher.delay = 1.5
    impatient, patient, default = sources_file(tmp_path, f"""\
  - id: impatient
    url: {publisher.url("/slow-a.xml")}
    timeout: 0.2s
  - id: patient
    url: {publisher.url("/slow-b.xml")}
    timeout: 30s
  - id: default
    url: {publisher.url("/slow-c.xml")}
""")
    async with Fetcher(fast_policy(total_timeout=0.5, read_timeout=0.5)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        results = await poller.poll_once([impatient, patient, default])
    assert [(r.outcome, r.reason) for r in results] == [
        ("timeout", "no complete response within 0.2s"),
        ("ok", ""),
        ("timeout", "no complete response within 0.5s"),
    ]


async def test_per_source_delay_holds_the_host_for_every_source(publisher: Publisher, tmp_path: Path) -> None:
    """After the slow source's fetch, its host waits 30 s for everyone (deferred: over max_gate_wait)."""
    slow, neighbour, elsewhere = sources_file(tmp_path, f"""\
  - id: slow
    url: {publisher.url("/slow-host.xml")}
    min_host_delay: 30s
  - id: neighbour
    url: {publisher.url("/neighbour.xml")}
  - id: elsewhere
    url: {publisher.url("/elsewhere.xml", host="localhost")}
""")
    async with Fetcher(fast_policy(max_gate_wait=1.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        first = await poller.poll_source(slow)
        results = [await poller.poll_source(s) for s in (neighbour, slow, elsewhere)]
    assert first.outcome == "ok"
    assert [r.outcome for r in results] == ["deferred", "deferred", "ok"]
    assert publisher.paths() == ["/slow-host.xml", "/elsewhere.xml"]


async def test_a_per_source_delay_never_speeds_a_host_up(publisher: Publisher, tmp_path: Path) -> None:
    """Global 30 s between requests to a host; a source asking for 0 s still waits."""
    (eager,) = sources_file(tmp_path, f"""\
  - id: eager
    url: {publisher.url("/eager.xml")}
    min_host_delay: 0s
""")
    async with Fetcher(fast_policy(min_host_delay=30.0, max_gate_wait=1.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        outcomes = [(await poller.poll_source(eager)).outcome for _ in range(2)]
    assert outcomes == ["ok", "deferred"]
    assert publisher.paths() == ["/eager.xml"]


async def test_without_a_per_source_delay_the_host_is_not_held(publisher: Publisher, tmp_path: Path) -> None:
    """The control for the two tests above: global delay 0, no override, every poll goes out."""
    (plain,) = sources_file(tmp_path, f"""\
  - id: plain
    url: {publisher.url("/plain.xml")}
""")
    async with Fetcher(fast_policy(max_gate_wait=1.0)) as fetcher:
        poller, _ = make_poller(tmp_path / "state", fetcher)
        outcomes = [(await poller.poll_source(plain)).outcome for _ in range(3)]
    assert outcomes == ["ok", "ok", "ok"]
    assert publisher.paths() == ["/plain.xml"] * 3


# --- config errors never show a cookie ------------------------------------------------------


def test_a_cookie_value_a_cookie_cannot_carry_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wirewatch.core.errors import ConfigError

    monkeypatch.setenv("PUBLISHER_SESSION", SECRET + "; admin=1")
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: publisher-x\n    url: https://publisher.example/feed.xml\n"
                    "    cookies: {session: {env: PUBLISHER_SESSION}}\n")
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    assert str(err.value) == (
        f"{path}: sources[0] (publisher-x).cookies.session: environment variable PUBLISHER_SESSION holds "
        "characters a cookie cannot carry (only printable ASCII without ';' or ',')"
    )


# --- through the CLI (`wirewatch run` shares the same Poller and Fetcher) --------------------


async def test_poll_once_honours_per_source_settings(
    publisher: Publisher, proxy: Proxy, tmp_path: Path, closed_port: int,
    wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(f"""\
fetch:
  min_host_delay: 0s
sources:
  - id: publisher-x
    url: {publisher.url("/picky.xml")}
    user_agent: "Wirewatch (desk@newsroom.example)"
    headers: {{X-Desk: world}}
    cookies: {{session: {{env: PUBLISHER_SESSION}}}}
    proxy: {proxy.url}
  - id: behind-dead-proxy
    url: {publisher.url("/never.xml")}
    proxy: http://127.0.0.1:{closed_port}
""")
    env = {**wirewatch_env, "PUBLISHER_SESSION": SECRET}
    process = await asyncio.create_subprocess_exec(
        wirewatch_bin, "poll", "--once", "--config", str(config), "--state", str(tmp_path / "state"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    stderr = err.decode()
    assert process.returncode == 0, stderr
    assert [json.loads(line)["id"] for line in out.decode().splitlines()] == [
        f"publisher-x:{publisher.url('/px/picky.xml')}"
    ]  # the guid is relative: resolved against the feed URL
    assert proxy.requests == [f"GET {publisher.url('/picky.xml')} HTTP/1.1"]
    (got,) = publisher.received
    assert (got.headers["user-agent"], got.headers["x-desk"], got.headers["cookie"]) == (
        "Wirewatch (desk@newsroom.example)", "world", f"session={SECRET}",
    )
    failed = [json.loads(line) for line in stderr.splitlines() if '"source_failed"' in line]
    assert [(f["source"], f["kind"]) for f in failed] == [("behind-dead-proxy", "proxy")]
    assert f"proxy http://127.0.0.1:{closed_port} failed" in failed[0]["reason"]
    assert SECRET not in stderr and "Traceback" not in stderr


def test_the_readme_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Per-source fetch settings", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("PUBLISHER_SESSION", SECRET)
    (path := tmp_path / "sources.yaml").write_text(example)
    settings = load_sources(path).sources[0].fetch_settings
    assert settings.user_agent == "Wirewatch (desk@newsroom.example)"
    assert settings.headers == (("X-Desk", "world"), ("Accept-Language", "fr-CH, fr;q=0.9"))
    assert settings.cookies == (("session", SECRET),)
    assert (settings.proxy, settings.min_host_delay, settings.timeout) == (
        "http://proxy.newsroom.example:3128", 10.0, 90.0,
    )
