"""Hostile and broken servers: each gives its own clear outcome, the other sources still work."""

from __future__ import annotations

import gzip
import io
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from wirewatch.pollers.config import Source
from wirewatch.pollers.http import Fetcher

from .helpers import Site, fast_policy, fixture_bytes, make_poller

RSS = {"Content-Type": "application/rss+xml"}
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><item><title>&lol9;</title></item></channel></rss>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title></item></channel></rss>
"""


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(3)
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def fifty_megabytes(handler: BaseHTTPRequestHandler) -> None:
    """50 MB without Content-Length: only counting while streaming can stop it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"<!-- padding -->" * 65536
    for _ in range(50 * 1024 * 1024 // len(chunk)):
        handler.wfile.write(chunk)
    handler.close_connection = True


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """~100 KB on the wire, 100 MB decompressed."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        zeros = b"\0" * (1024 * 1024)
        for _ in range(100):
            gz.write(zeros)
    return out.getvalue()


async def test_faults_each_get_a_clear_outcome(
    site: Site, tmp_path: Path, gzip_bomb: bytes
) -> None:
    site.serve("/ok.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
    site.serve("/500.xml", b"boom", status=500)
    site.serve("/huge.xml", handler=fifty_megabytes)
    site.serve("/bomb.xml", gzip_bomb, headers={**RSS, "Content-Encoding": "gzip"})
    site.serve("/laughs.xml", BILLION_LAUGHS, headers=RSS)
    site.serve("/xxe.xml", XXE, headers=RSS)
    site.serve(
        "/metadata", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    site.serve("/loop", status=302, headers={"Location": "/loop"})
    site.serve("/moved", status=301, headers={"Location": "/ok.xml"})
    site.serve("/notafeed", b"just some text", headers={"Content-Type": "text/plain"})
    sources = [
        Source(id=name, kind="rss", url=site.url(path))
        for name, path in [
            ("ok", "/ok.xml"), ("err500", "/500.xml"), ("huge", "/huge.xml"),
            ("bomb", "/bomb.xml"), ("laughs", "/laughs.xml"), ("xxe", "/xxe.xml"), ("metadata", "/metadata"),
            ("loop", "/loop"), ("moved", "/moved"), ("notafeed", "/notafeed"),
        ]
    ]  # fmt: skip
    async with Fetcher(fast_policy()) as fetcher:
        poller, published = make_poller(tmp_path, fetcher)
        results = {r.source_id: r for r in await poller.poll_once(sources)}
    outcomes = {sid: r.outcome for sid, r in results.items()}
    assert outcomes == {
        "ok": "ok",
        "err500": "http_status",
        "huge": "too_large",
        "bomb": "too_large",
        "laughs": "unsafe_xml",
        "xxe": "unsafe_xml",
        "metadata": "redirect_refused",
        "loop": "too_many_redirects",
        "moved": "ok",
        "notafeed": "parse",
    }
    assert results["err500"].reason == "HTTP 500"
    assert results["huge"].reason == "response exceeds 10485760 bytes (decompressed)"
    assert "169.254.169.254" in results["metadata"].reason
    assert (
        results["laughs"].reason
        == "refused XML: entity defined through other entities (billion laughs)"
    )
    assert results["xxe"].reason == "refused XML: external entity declaration (XXE)"
    assert results["notafeed"].reason.startswith("not a feed")
    assert [len(results[s].items) for s in ("ok", "moved")] == [3, 3]
    assert len(published.messages) == 6
    assert all(m[0] == "t.raw" and m[1] in ("ok", "moved") for m in published.messages)


async def test_slow_server_times_out_others_continue(site: Site, tmp_path: Path) -> None:
    site.serve("/slow.xml", handler=slow)
    site.serve("/ok.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
    sources = [Source(id="slow", kind="rss", url=site.url("/slow.xml")),
               Source(id="ok", kind="rss", url=site.url("/ok.xml"))]  # fmt: skip
    async with Fetcher(fast_policy(total_timeout=1.0, read_timeout=0.5)) as fetcher:
        poller, _ = make_poller(tmp_path, fetcher)
        slow_result, ok_result = await poller.poll_once(sources)
    assert (slow_result.outcome, slow_result.reason) == ("timeout", "ReadTimeout")
    assert (ok_result.outcome, len(ok_result.items)) == ("ok", 3)


async def test_429_retry_after_backs_off_the_host(tmp_path: Path) -> None:
    limited, other = Site(), Site()
    for server in (limited, other):
        server.thread.start()
    try:
        limited.serve("/feed.xml", b"slow down", status=429, headers={"Retry-After": "120"})
        other.serve("/feed.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
        sources = [Source(id="limited", kind="rss", url=limited.url("/feed.xml")),
                   Source(id="other", kind="rss", url=other.url("/feed.xml"))]  # fmt: skip
        async with Fetcher(fast_policy()) as fetcher:
            poller, _ = make_poller(tmp_path, fetcher)
            first = await poller.poll_once(sources)
            second = await poller.poll_once(sources)
        assert [(r.outcome, r.reason, r.retry_after) for r in first] == [
            ("http_status", "HTTP 429, Retry-After 120s", 120.0),
            ("ok", "", None),
        ]
        # The limited host is not contacted again before Retry-After; the other host is.
        assert second[0].outcome == "deferred" and 110 < (second[0].retry_after or 0) <= 120
        assert second[1].outcome == "ok"
        assert (len(limited.requests), len(other.requests)) == (1, 2)
    finally:
        for server in (limited, other):
            server.server.shutdown()
            server.server.server_close()


async def test_invalid_utf8(site: Site, tmp_path: Path) -> None:
    """Declared UTF-8 but is not: feed falls back to windows-1252, a page gets U+FFFD; both say so."""
    broken = fixture_bytes("rss_v1.xml").replace(
        b"Markets open lower", b"Markets \xff\xfe open lower"
    )
    site.serve("/bad.xml", broken, headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    page = fixture_bytes("liveblog_jsonld_v1.html").replace(b"Welcome", b"Welc\xffome")
    site.serve("/bad.html", page, headers={"Content-Type": "text/html; charset=utf-8"})
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path, fetcher)
        feed, blog = await poller.poll_once(
            [
                Source(id="bad-feed", kind="rss", url=site.url("/bad.xml")),
                Source(id="bad-page", kind="liveblog", url=site.url("/bad.html")),
            ]
        )
    assert feed.outcome == "ok" and [i["title"] for i in feed.items][1] == "Markets ÿþ open lower"
    assert blog.outcome == "ok" and [i["title"] for i in blog.items][2] == "Welc\ufffdome"
