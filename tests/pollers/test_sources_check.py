"""`wirewatch sources check --config FILE`: every source polled once, a table, nothing saved.

Sources: a feed, a JSON Feed, a 404, a closed port, an HTML page, a proxy that refuses.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .helpers import FIXTURES, Site, fixture_bytes

CONFIG = """\
fetch:
  min_host_delay: 0s
  total_timeout: 5s
sources:
  - id: wire
    kind: rss
    url: {wire}
  - id: harbour-json
    url: {json}
  - id: gone
    kind: rss
    url: {gone}
  - id: down
    url: {down}
  - id: homepage
    url: {home}
  - id: via-proxy
    kind: rss
    url: {wire}
    proxy: http://127.0.0.1:{down_port}
"""


def check(wirewatch_bin: str, env: dict[str, str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wirewatch_bin, "sources", "check", "--config", str(config)], capture_output=True, text=True, env=env, timeout=60,
        cwd=config.parent,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def columns(line: str) -> list[str]:
    """Cells of a table line: columns are separated by two or more spaces."""
    import re

    return re.split(r"\s{2,}", line.strip())


def test_table_of_ok_404_closed_port_and_html_page_exit_1(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    port = closed_port()
    config = tmp_path / "sources.yaml"
    config.write_text(
        CONFIG.format(
            wire=site.serve("/rss.xml", fixture_bytes("rss_v1.xml"), headers={"Content-Type": "application/rss+xml"}),
            json=site.serve(
                "/feed.json",
                (FIXTURES / "discover" / "main.json").read_bytes(),
                headers={"Content-Type": "application/feed+json"},
            ),
            gone=site.url("/gone.xml"),
            down=f"http://127.0.0.1:{port}/feed",
            down_port=port,  # a proxy that refuses
            home=site.serve("/", fixture_bytes("html_no_feeds.html"), headers={"Content-Type": "text/html"}),
        ),
        "utf-8",
    )
    first = check(wirewatch_bin, wirewatch_env, config)
    assert first.returncode == 1, first.stderr
    assert first.stderr == ""  # the table says it all: no per-source log lines
    lines = first.stdout.splitlines()
    assert columns(lines[0]) == ["ID", "STATUS", "ITEMS", "LAST ITEM", "ERROR"]
    rows = {cells[0]: cells for cells in map(columns, lines[1:])}
    assert list(rows) == ["wire", "harbour-json", "gone", "down", "homepage", "via-proxy"]  # config order
    assert rows["wire"] == ["wire", "ok", "3", "2026-03-03T09:15:00Z", "-"]
    assert rows["harbour-json"] == ["harbour-json", "ok", "1", "2026-12-04T18:00:00Z", "-"]
    assert rows["gone"] == ["gone", "HTTP 404", "0", "-", "HTTP 404"]
    assert rows["down"][:4] == ["down", "network error", "0", "-"]
    assert rows["down"][4].startswith("ConnectError")
    assert rows["homepage"] == [
        "homepage", "not a feed", "0", "-",
        # kind auto: an HTML page is read as a live blog, and the poller says why it is none
        "no LiveBlogPosting JSON-LD on the page and no liveblog selectors configured, and the page advertises no feed",
    ]  # fmt: skip
    assert rows["via-proxy"] == [  # the source's own fetch settings hold: it is the real poller
        "via-proxy", "proxy error", "0", "-", f"proxy http://127.0.0.1:{port} failed: ConnectError: All connection attempts failed",
    ]  # fmt: skip
    # Nothing was saved: a second check finds the same items again, and leaves no files behind.
    second = check(wirewatch_bin, wirewatch_env, config)
    assert (second.returncode, second.stdout) == (1, first.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.yaml"]


def test_all_ok_is_exit_0(site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    config = tmp_path / "sources.yaml"
    url = site.serve("/atom.xml", fixture_bytes("atom_v1.xml"), headers={"Content-Type": "application/atom+xml"})
    config.write_text(f"fetch:\n  min_host_delay: 0s\nsources:\n  - id: atom\n    url: {url}\n", "utf-8")
    done = check(wirewatch_bin, wirewatch_env, config)
    assert (done.returncode, done.stderr) == (0, "")
    assert columns(done.stdout.splitlines()[1])[:3] == ["atom", "ok", "3"]


def test_unusable_config_is_one_line_and_exit_2(tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - id: a\n    url: https://a.example/\n  - id: a\n    url: https://b.example/\n", "utf-8")
    done = check(wirewatch_bin, wirewatch_env, config)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("wirewatch sources check: error: ") and done.stderr.count("\n") == 1


def test_check_polls_the_feed_not_its_article_pages(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """A source with ``full_text: always`` is checked by its feed alone: no article page is fetched."""
    article = site.serve("/news/1.html", "<html><body><article><p>The whole story.</p></article></body></html>",
                         headers={"Content-Type": "text/html"})
    feed = (f'<rss version="2.0"><channel><title>Wire</title><item><title>Teaser</title><link>{article}</link>'
            "<guid>w-1</guid><description>Short.</description></item></channel></rss>")
    url = site.serve("/rss.xml", feed, headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "sources.yaml"
    config.write_text(f"fetch:\n  min_host_delay: 0s\nsources:\n  - id: wire\n    url: {url}\n"
                      "    full_text: always\n", "utf-8")
    done = check(wirewatch_bin, wirewatch_env, config)
    assert (done.returncode, done.stderr) == (0, "")
    assert columns(done.stdout.splitlines()[1])[:3] == ["wire", "ok", "1"]
    assert [path for path, _ in site.requests] == ["/rss.xml"]
