"""The web page's HTTP side: escaping, JSON endpoints, headers, bind parsing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from wirewatch.core.errors import ConfigError
from wirewatch.embedded.web import create_app, href, parse_allowed_hosts, parse_bind, start_web
from wirewatch.sinks.sqlite import SqliteStore

from .test_browser import HOSTILE


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore]]:
    store = SqliteStore(tmp_path)
    store.index_items_sync([HOSTILE])
    store.index_alerts_sync([{
        "id": "r:evil:1", "rule": "r", "item_id": "evil:1", "story_id": "evil:1", "dedupe_status": "new",
        "title": HOSTILE["title"], "url": HOSTILE["url"], "source": {"id": "evil"},
        "published_at": HOSTILE["published_at"], "matched_at": "2026-01-01T00:00:00.000Z",
    }])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        yield url, store
    finally:
        await runner.cleanup()
        await store.close()


async def test_page_escapes_feed_content_and_sends_a_strict_policy(page: tuple[str, Any]) -> None:
    url, _ = page
    async with httpx.AsyncClient() as client:
        for address in (url, url + "?q=grain"):
            response = await client.get(address)
            assert response.status_code == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            text = response.text
            assert "<img" not in text and "<script>window" not in text and "<b>Evil" not in text
            assert "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;" in text
            assert 'href="javascript:' not in text


async def test_json_endpoints(page: tuple[str, Any]) -> None:
    url, _ = page
    async with httpx.AsyncClient(base_url=url) as client:
        data = (await client.get("/api/alerts", params={"after": 0})).json()
        assert [(e["seq"], e["alert"]["id"]) for e in data["alerts"]] == [(1, "r:evil:1")]
        assert data["stats"] == {"items": 1, "stories": 1, "alerts": 1}
        assert (await client.get("/api/alerts", params={"after": 1})).json()["alerts"] == []
        assert (await client.get("/api/alerts", params={"after": "x"})).status_code == 400
        hits = (await client.get("/api/search", params={"q": "corridor AND ukraine"})).json()["hits"]
        assert [h["id"] for h in hits] == ["evil:1"]
        bad = await client.get("/api/search", params={"q": "title:("})
        assert bad.status_code == 400 and "position" in bad.json()["error"]
        assert (await client.get("/api/search")).status_code == 400


def test_bind_and_link_rules() -> None:
    assert parse_bind("127.0.0.1:8750") == ("127.0.0.1", 8750)
    assert parse_bind("9000") == ("127.0.0.1", 9000)
    assert parse_bind("[::1]:80") == ("::1", 80)
    assert parse_bind("off") is None
    for bad in ("localhost:http", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_bind(bad)
    assert href("https://example.org/a") == "https://example.org/a"
    assert href("javascript:alert(1)") == "#"
    assert href(" JAVASCRIPT:alert(1)") == "#"
    assert href(None) == "#"


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


async def test_page_answers_only_the_host_names_of_its_address(page: tuple[str, Any]) -> None:
    """DNS rebinding: a hostile name resolved to 127.0.0.1 reaches the socket, never the page."""
    url, _ = page
    port = _port(url)
    allowed = f"127.0.0.1:{port}, localhost:{port}, [::1]:{port}"
    async with httpx.AsyncClient(base_url=url) as client:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LocalHost:{port}"):
            for path in ("/", "/healthz", "/api/search?q=grain"):
                assert (await client.get(path, headers={"Host": host})).status_code == 200, (host, path)
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "localhost",
                     f"127.0.0.1.evil.example:{port}", f"localhost.:{port}", f"[::2]:{port}"):
            for path in ("/", "/api/search?q=grain", "/api/alerts", "/static/app.js"):
                response = await client.get(path, headers={"Host": host})
                assert response.status_code == 421, (host, path)
                assert response.text == (f"wirewatch: Host {host!r} is not served here (allowed: {allowed}; "
                                         "add names with --web-allowed-hosts)\n")
                assert "grain" not in response.text


async def test_a_request_without_host_is_refused(page: tuple[str, Any]) -> None:
    url, _ = page
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(url))
    writer.write(b"GET /api/search?q=grain HTTP/1.0\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.0 421 ") or answer.startswith(b"HTTP/1.1 421 ")
    assert b"Host None is not served here" in answer and b"grain" not in answer


async def test_allowed_hosts_add_names_with_or_without_port(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    store.index_items_sync([HOSTILE])
    app = create_app(store, store, allowed_hosts=parse_allowed_hosts("news.example.org, wire.lan:9999"))
    runner, url = await start_web(app, "127.0.0.1", 0)
    port = _port(url)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for host, status in (("news.example.org", 200), ("news.example.org:443", 200),
                                 ("wire.lan:9999", 200), (f"wire.lan:{port}", 421), ("wire.lan", 421),
                                 (f"localhost:{port}", 200), ("evil.example", 421)):
                assert (await client.get("/api/search?q=grain", headers={"Host": host})).status_code == status, host
    finally:
        await runner.cleanup()
        await store.close()
    for bad in ("http://news.example.org", "a b", "news.example.org:http", "user@host"):
        with pytest.raises(ConfigError, match="--web-allowed-hosts: expected NAME or NAME:PORT"):
            parse_allowed_hosts(bad)


async def test_a_bind_beyond_loopback_warns_once_and_accepts_ip_literals(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """`wirewatch run --web 0.0.0.0:0`: one warning line at start; IP literals pass, names don't."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - id: a\n    url: http://127.0.0.1:9/feed\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: r\n    query: grain\n")
    args = ["run", "--config", str(sources), "--rules", str(rules), "--ner", "off"]

    async def started(*web: str) -> tuple[asyncio.subprocess.Process, list[dict[str, Any]]]:
        proc = await asyncio.create_subprocess_exec(wirewatch_bin, *args, *web, env=wirewatch_env,
                                                    stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        lines: list[dict[str, Any]] = []
        while not any(line.get("event") == "wirewatch run started" for line in lines):
            raw = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert raw, "run ended before it started"
            lines.append(json.loads(raw))
        return proc, lines

    async def stopped(proc: asyncio.subprocess.Process) -> None:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 40)

    proc, lines = await started("--web", "0.0.0.0:0")  # every interface: the case under test
    try:
        port = _port(next(line["web"] for line in lines if line["event"] == "wirewatch run started"))
        warnings = [line for line in lines if line["level"] == "warning"]
        assert [(w["event"], w["address"]) for w in warnings] == [
            ("the web page listens beyond this machine: anyone who can reach it can read it (no login)",
             f"0.0.0.0:{port}")
        ]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            # an address typed in the browser is no rebinding (the origin is that address); a name is
            for host, status in ((f"192.0.2.7:{port}", 200), (f"[2001:db8::7]:{port}", 200),
                                 (f"localhost:{port}", 200), (f"evil.example:{port}", 421),
                                 (f"192.0.2.7:{port + 1}", 421)):
                assert (await client.get("/healthz", headers={"Host": host})).status_code == status, host
    finally:
        await stopped(proc)
    proc, lines = await started("--web", "127.0.0.1:0")
    await stopped(proc)
    assert [line for line in lines if line["level"] == "warning"] == []  # loopback: no warning


async def test_a_bind_on_one_address_answers_that_address_and_localhost(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    runner, url = await start_web(create_app(store, store), "127.0.0.2", 0)  # all of 127/8 is loopback on Linux
    port = _port(url)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for host, status in ((f"127.0.0.2:{port}", 200), (f"localhost:{port}", 200),
                                 (f"10.0.0.1:{port}", 421), (f"127.0.0.2:{port + 1}", 421)):
                assert (await client.get("/healthz", headers={"Host": host})).status_code == status, host
            refused = await client.get("/healthz", headers={"Host": "evil.example"})
            assert f"(allowed: 127.0.0.2:{port}, 127.0.0.1:{port}, localhost:{port}, [::1]:{port};" in refused.text
    finally:
        await runner.cleanup()
        await store.close()


async def test_right_to_left_titles_are_shown_right_to_left(tmp_path: Path) -> None:
    """An Arabic title inside a left-to-right page keeps its own direction (dir=auto) and language."""
    store = SqliteStore(tmp_path)
    item = {
        **HOSTILE, "id": "aljarida:7", "source": {"id": "aljarida", "name": "الجريدة"},
        "title": "بوتين يلتقي شي في موسكو", "body": "التقى الرئيس الروسي نظيره الصيني.",
        "language": "ar", "url": "https://aljarida.example/7",
    }
    store.index_items_sync([item])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(url)).text
    finally:
        await runner.cleanup()
        await store.close()
    assert '<a class="title" dir="auto" lang="ar" href="https://aljarida.example/7"' in text
    assert 'dir="auto" href="/?source=aljarida">الجريدة</a>' in text


async def test_the_first_render_states_the_counts_without_javascript(page: tuple[str, Any]) -> None:
    """#17 item 2: the stats line read ``<built-in method items of dict object at 0x...> items``
    (Jinja took ``stats.items`` for the dict's method) until the first poll replaced it."""
    url, store = page
    store.index_items_sync([{**HOSTILE, "id": "evil:2", "story_id": "evil:2"}])
    async with httpx.AsyncClient() as client:
        for address in (url, url + "?q=grain"):
            html = HTMLParser((await client.get(address)).text)
            stats = html.css_first("#stats")
            assert stats is not None and stats.text() == "2 items · 2 stories · 1 alert", address
