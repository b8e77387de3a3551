"""`wirewatch sources discover URL` against a local site, through the poller's fetcher.

The home page advertises RSS, Atom and JSON Feed with relative hrefs (and the traps real
heads hold: hreflang and text/html alternates, a duplicate, a ``javascript:`` href); the
site also answers on common paths with a real feed, an HTML soft-404, a sitemap and 404s.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

from .helpers import FIXTURES, Site, fixture_bytes
from .test_fetch_settings import Proxy

DISCOVER = FIXTURES / "discover"
HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}
ATOM = {"Content-Type": "application/atom+xml"}


def discover(wirewatch_bin: str, env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wirewatch_bin, "sources", "discover", url], capture_output=True, text=True, env=env, timeout=60
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_advertised_feeds_made_absolute_then_common_paths_that_are_feeds(
    site: Site, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    home = site.serve("/news/", (DISCOVER / "home.html").read_bytes(), headers=HTML)
    site.serve("/feeds/rss.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
    site.serve("/news/atom.xml", fixture_bytes("atom_v1.xml"), headers=ATOM)
    site.serve("/feeds/main.json", (DISCOVER / "main.json").read_bytes(), headers={"Content-Type": "application/feed+json"})
    site.serve("/rss.xml", fixture_bytes("rss_v2.xml"), headers=RSS)  # a real feed, not advertised
    site.serve("/feed", (DISCOVER / "soft404.html").read_bytes(), headers=HTML)  # 200, but a page
    site.serve("/index.xml", (DISCOVER / "sitemap.xml").read_bytes(), headers={"Content-Type": "application/xml"})
    site.serve("/feed.json", b'{"posts": []}', headers={"Content-Type": "application/json"})
    done = discover(wirewatch_bin, wirewatch_env, home)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        site.url("/feeds/rss.xml"),
        site.url("/news/atom.xml"),
        site.url("/feeds/main.json"),
        site.url("/rss.xml"),
    ]
    probed = {"/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json"}
    assert probed <= {path for path, _ in site.requests}
    assert all("Wirewatch/" in headers["user-agent"] for _, headers in site.requests)  # the poller's fetcher


def test_site_advertising_nothing_but_serving_common_paths(
    site: Site, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    home = site.serve("/", (DISCOVER / "plain.html").read_bytes(), headers=HTML)
    site.serve("/feed", b"", status=301, headers={"Location": "/feed/"})  # WordPress adds the slash
    site.serve("/feed/", fixture_bytes("rss_v1.xml"), headers=RSS)
    site.serve("/feed.xml", fixture_bytes("atom_v1.xml"), headers=ATOM)
    done = discover(wirewatch_bin, wirewatch_env, home)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{site.url('/feed/')}\n{site.url('/feed.xml')}\n"


def test_no_feed_found_is_exit_1_with_one_line(site: Site, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    home = site.serve("/", (DISCOVER / "plain.html").read_bytes(), headers=HTML)
    done = discover(wirewatch_bin, wirewatch_env, home)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"wirewatch sources discover: no feed found at {home}\n"


def test_bad_urls_are_one_line_and_exit_2(site: Site, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    png = site.serve("/logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, headers={"Content-Type": "image/png"})
    feed = site.serve("/feed.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
    huge = site.serve("/huge.html", b"<!DOCTYPE html><html><body>" + b"<p>word</p>" * 1_000_000, headers=HTML)
    port = closed_port()
    cases = {
        huge: f"cannot fetch {huge}: response exceeds 10485760 bytes (decompressed)",  # the fetcher's cap
        png: f"{png} is not an HTML page (image/png)",
        feed: f"{feed} is a feed itself, not a web page: use it as a source's url",
        site.url("/missing"): f"cannot fetch {site.url('/missing')}: HTTP 404",
        "http://169.254.169.254/latest/": "cannot fetch http://169.254.169.254/latest/: "
        "refused 169.254.169.254: link-local/reserved address",
        "ftp://files.example/": "'ftp://files.example/' is not an http:// or https:// URL",
    }
    for url, message in cases.items():
        done = discover(wirewatch_bin, wirewatch_env, url)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"wirewatch sources discover: error: {message}\n")
    unreachable = f"http://127.0.0.1:{port}/"
    done = discover(wirewatch_bin, wirewatch_env, unreachable)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"wirewatch sources discover: error: cannot fetch {unreachable}: ConnectError")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


async def discover_async(
    wirewatch_bin: str, env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    """``wirewatch sources discover ARGS`` without blocking the loop the test's proxy runs on."""
    process = await asyncio.create_subprocess_exec(
        wirewatch_bin, "sources", "discover", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_discovery_goes_through_the_proxy_and_user_agent_given_or_a_sources(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    home = site.serve("/", (DISCOVER / "plain.html").read_bytes(), headers=HTML)
    feed = site.serve("/rss.xml", fixture_bytes("rss_v1.xml"), headers=RSS)
    recorder = Proxy()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    try:
        done = await discover_async(
            wirewatch_bin, wirewatch_env, "--proxy", recorder.url, "--user-agent", "DeskBot/2", home
        )
        assert done == (0, f"{feed}\n", "")
        assert f"GET {home} HTTP/1.1" in recorder.requests
        assert f"GET {feed} HTTP/1.1" in recorder.requests
        assert len(recorder.requests) == len(site.requests) == 8  # the page and the 7 common paths
        assert {headers["user-agent"] for _, headers in site.requests} == {"DeskBot/2"}

        config = tmp_path / "sources.yaml"
        config.write_text(
            f"sources:\n  - id: desk\n    url: {site.url('/rss.xml')}\n    proxy: {recorder.url}\n"
            "    user_agent: DeskBot/3\n    headers: {X-Desk: world}\n",
            "utf-8",
        )
        before = len(recorder.requests)
        done = await discover_async(
            wirewatch_bin, wirewatch_env, "--config", str(config), "--source", "desk", home
        )
        assert done == (0, f"{feed}\n", "")
        assert len(recorder.requests) == before + 8
        assert [(h["user-agent"], h["x-desk"]) for _, h in site.requests[8:]] == [("DeskBot/3", "world")] * 8
    finally:
        server.close()


async def test_a_refusing_proxy_and_unusable_flags_are_one_line_and_exit_2(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    home = site.serve("/", (DISCOVER / "plain.html").read_bytes(), headers=HTML)
    dead = f"http://127.0.0.1:{closed_port()}"
    code, out, err = await discover_async(wirewatch_bin, wirewatch_env, "--proxy", dead, home)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"wirewatch sources discover: error: cannot fetch {home}: proxy {dead} failed: ConnectError")
    assert site.requests == []
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: desk\n    url: {home}\n  - id: wire\n    url: {home}\n", "utf-8")
    cases = {
        ("--proxy", "socks5://desk:s3cret@proxy.example:1080"):
            "--proxy: must be an http:// or https:// proxy URL (got 'socks5://***@proxy.example:1080')",
        ("--user-agent", " "): "--user-agent: must not be empty",
        ("--source", "desk"): "--source: needs --config FILE (the sources.yaml that holds it)",
        ("--config", str(config), "--source", "nope"): f"{config}: no source 'nope' (sources: desk, wire)",
    }  # fmt: skip
    for flags, message in cases.items():
        done = await discover_async(wirewatch_bin, wirewatch_env, *flags, home)
        assert done == (2, "", f"wirewatch sources discover: error: {message}\n")
    assert site.requests == []
