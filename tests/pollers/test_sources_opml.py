"""`wirewatch sources import FILE.opml` and `wirewatch sources export --config FILE`.

OPML files are written in the shapes the feed readers export (Miniflux 2.0 with its "All"
folder, Feedly's feed listed in two folders, Inoreader's non-Latin titles, NetNewsWire's
top-level feeds, OPML 2.0 ``category`` attributes in a Latin-1 file); each imports to the
exact sources.yaml next to it (``*.expected.yaml``), which the project's loader accepts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.errors import ConfigError
from wirewatch.pollers.config import SourcesConfig, load_sources
from wirewatch.pollers.opml import export_opml, import_opml, slug

from .helpers import FIXTURES

OPML = FIXTURES / "opml"
READERS = ["miniflux", "feedly", "inoreader", "netnewswire", "opml2_categories"]


def run(wirewatch_bin: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([wirewatch_bin, "sources", *args], capture_output=True, text=True, env=env, timeout=60)


def essentials(config: SourcesConfig) -> dict[str, tuple[str, str | None, str | None, list[str]]]:
    return {s.id: (s.url, s.site_url, s.name, s.tags) for s in config.sources}


@pytest.mark.parametrize("reader", READERS)
def test_import_writes_the_exact_sources_yaml_the_loader_accepts(
    reader: str, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    done = run(wirewatch_bin, wirewatch_env, "import", str(OPML / f"{reader}.opml"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (OPML / f"{reader}.expected.yaml").read_text("utf-8")
    written = tmp_path / "sources.yaml"
    written.write_text(done.stdout, "utf-8")
    assert load_sources(written).sources  # the project's own loader, unchanged


def test_feed_in_two_folders_is_one_source_tagged_with_both() -> None:
    imported = import_opml((OPML / "feedly.opml").read_bytes())
    verge = [s for s in imported.sources if s["url"] == "https://www.theverge.com/rss/index.xml"]
    assert verge == [
        {"id": "the-verge", "name": "The Verge", "kind": "rss", "url": verge[0]["url"],
         "site_url": "https://www.theverge.com/", "tags": ["Tech", "Must Read"]}
    ]


def test_ids_from_titles_else_hosts_made_unique_in_document_order() -> None:
    ids = [s["id"] for s in import_opml((OPML / "inoreader.opml").read_bytes()).sources]
    assert ids == [
        "le-monde-fr-actualites-et-infos-en-france-et-dans-le-monde",
        "tagesschau-de-die-erste-adresse-fur-nachrichten-und",  # cut at a word before 60 characters
        "asahi-com",  # 朝日新聞デジタル: no ASCII left, the host
        "feeds-bbci-co-uk",
        "meduza-io",
        "hacker-news",
    ]
    miniflux = [s["id"] for s in import_opml((OPML / "miniflux.opml").read_bytes()).sources]
    assert miniflux[1:3] == ["top-stories", "top-stories-2"]
    assert slug("Deutsche Welle: DW.com - Themen") == "deutsche-welle-dw-com-themen"


def test_folders_then_category_paths_become_tags_and_odd_outlines_are_handled() -> None:
    imported = import_opml((OPML / "opml2_categories.opml").read_bytes())
    by_url = {s["url"]: s for s in imported.sources}
    assert by_url["https://kyivindependent.com/feed/"]["tags"] == [
        "World", "Europe", "Ukraine", "Conflict", "War", "Priority",
    ]  # fmt: skip
    assert by_url["https://title-only.example/rss"]["name"] == "Only a title"
    assert by_url["https://both.example/feed"]["name"] == "Text wins"  # text before title, as readers show
    assert by_url["https://www.untitled.example/atom.xml"] == {
        "id": "untitled-example", "kind": "rss", "url": "https://www.untitled.example/atom.xml",
    }  # fmt: skip
    assert by_url["http://cafe.example/rss"]["name"] == "Café de Flore"  # feed:// and Latin-1
    assert imported.skipped == ["skipped 'Gopher hole': xmlUrl 'gopher://old.example/feed' is not an http(s) URL"]
    assert "http://scripting.com/blogroll.opml" not in by_url  # an include, not a feed
    assert "https://nofeed.example/" not in by_url


def test_skipped_outline_is_one_line_on_stderr(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    done = run(wirewatch_bin, wirewatch_env, "import", str(OPML / "opml2_categories.opml"))
    assert done.returncode == 0
    assert done.stderr == (
        "wirewatch sources import: skipped 'Gopher hole': xmlUrl 'gopher://old.example/feed' is not an http(s) URL\n"
    )


@pytest.mark.parametrize("reader", READERS)
def test_export_then_import_gives_the_same_sources(
    reader: str, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    original = load_sources(OPML / f"{reader}.expected.yaml")
    exported = run(wirewatch_bin, wirewatch_env, "export", "--config", str(OPML / f"{reader}.expected.yaml"))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml ')
    assert 'version="2.0"' in exported.stdout.splitlines()[1]
    opml = tmp_path / "exported.opml"
    opml.write_text(exported.stdout, "utf-8")
    again = run(wirewatch_bin, wirewatch_env, "import", str(opml))
    assert again.returncode == 0, again.stderr
    (tmp_path / "again.yaml").write_text(again.stdout, "utf-8")
    assert essentials(load_sources(tmp_path / "again.yaml")) == essentials(original)


HAND_WRITTEN = """\
sources:
  - id: bbc-world
    name: BBC News - World
    kind: rss
    url: https://feeds.bbci.co.uk/news/world/rss.xml
    site_url: https://www.bbc.co.uk/news/world
    tags: [world, uk]
  - id: wire
    url: https://wire.example/feed?a=1&b=2
  - id: election-live
    kind: liveblog
    url: https://news.example/live/election
"""


def test_hand_written_ids_and_site_urls_survive_the_round_trip_and_live_blogs_are_left_out(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(HAND_WRITTEN, "utf-8")
    exported = run(wirewatch_bin, wirewatch_env, "export", "--config", str(config))
    assert exported.returncode == 0
    assert exported.stderr == "wirewatch sources export: left out election-live: a live blog page, not a feed\n"
    assert exported.stdout == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<opml xmlns:wirewatch="urn:wirewatch:opml" version="2.0">\n'
        "  <head>\n"
        "    <title>Wirewatch sources</title>\n"
        "  </head>\n"
        "  <body>\n"
        '    <outline text="world" title="world">\n'
        '      <outline type="rss" text="BBC News - World" title="BBC News - World" '
        'xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" htmlUrl="https://www.bbc.co.uk/news/world" '
        'wirewatch:id="bbc-world" category="/world,/uk" />\n'
        "    </outline>\n"
        '    <outline type="rss" text="wire" title="wire" xmlUrl="https://wire.example/feed?a=1&amp;b=2" wirewatch:id="wire" />\n'
        "  </body>\n"
        "</opml>\n"
    )
    reimported = import_opml(exported.stdout.encode())
    expected: list[dict[str, Any]] = [
        {"id": "bbc-world", "name": "BBC News - World", "kind": "rss",
         "url": "https://feeds.bbci.co.uk/news/world/rss.xml", "site_url": "https://www.bbc.co.uk/news/world",
         "tags": ["world", "uk"]},
        {"id": "wire", "kind": "rss", "url": "https://wire.example/feed?a=1&b=2"},
    ]  # fmt: skip
    assert reimported.sources == expected


def test_tags_with_category_separators_round_trip_as_folder_else_are_named_as_lost(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  - id: kyiv\n    url: https://kyiv.example/feed\n    tags: [Europe/Ukraine, war, 'a,b']\n", "utf-8"
    )
    exported = run(wirewatch_bin, wirewatch_env, "export", "--config", str(config))
    assert exported.returncode == 0
    assert exported.stderr == (
        "wirewatch sources export: kyiv: tag 'a,b' left out (OPML categories cannot hold '/' or ',')\n"
    )
    assert '<outline text="Europe/Ukraine" title="Europe/Ukraine">' in exported.stdout
    assert import_opml(exported.stdout.encode()).sources[0]["tags"] == ["Europe/Ukraine", "war"]


def test_export_matches_the_library_function() -> None:
    config = load_sources(OPML / "feedly.expected.yaml")
    assert export_opml(config.sources).count('type="rss"') == 4


BROKEN = [
    ("truncated.opml", b'<?xml version="1.0"?>\n<opml version="2.0"><body>\n<outline text="A" xmlUrl="https://a.example/rss"/>\n<outline text="B',
     "broken OPML: not well-formed XML at line 4, column 1 (unclosed token)"),
    ("page.opml", b"<!DOCTYPE html><html><body><p>Subscriptions</p></body></html>",
     "{path} is not an OPML file (no <opml> element)"),
    ("empty.opml", b'<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="Folder"/></body></opml>',
     "{path} holds no feed (no outline with an http(s) xmlUrl)"),
    ("bomb.opml", b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><opml version="2.0"><body/></opml>',
     "not a usable OPML file: refused XML: entity defined through other entities (billion laughs)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_bad_opml_is_one_line_and_exit_2(
    name: str, content: bytes, message: str, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    done = run(wirewatch_bin, wirewatch_env, "import", str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"wirewatch sources import: error: {message.format(path=path)}\n"


def test_missing_file_and_bad_config_are_one_line_and_exit_2(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    missing = run(wirewatch_bin, wirewatch_env, "import", str(tmp_path / "nope.opml"))
    assert (missing.returncode, missing.stderr) == (
        2, f"wirewatch sources import: error: cannot read {tmp_path / 'nope.opml'}: No such file or directory\n",
    )  # fmt: skip
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - id: x\n    url: ftp://x.example/\n", "utf-8")
    bad = run(wirewatch_bin, wirewatch_env, "export", "--config", str(config))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("wirewatch sources export: error: ") and bad.stderr.count("\n") == 1


def test_a_site_url_that_is_not_http_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  - id: wire\n    url: https://wire.example/feed\n    site_url: wire.example\n", "utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(config)
    assert str(caught.value) == (
        f"{config}: sources[0] (wire).site_url: must be an http:// or https:// URL (got 'wire.example')"
    )
