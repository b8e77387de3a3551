"""Config mistakes end as one clear line naming the field, and a non-zero exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wirewatch.core.config import load_settings, parse_duration
from wirewatch.core.errors import ConfigError
from wirewatch.pollers.config import load_sources

GOOD = """\
sources:
  - id: guardian-ukraine-live
    name: Guardian Ukraine live
    kind: liveblog
    url: https://www.theguardian.example/live
    interval: 60s
    tags: [ukraine]
    liveblog:
      block: "article.block"
      id_attr: "data-block-id"
      time: "time[datetime]"
      title: "h2"
      body: "div.block-elements"
  - id: bbc-world
    url: https://feeds.bbc.example/news/world/rss.xml
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_the_documented_sources_example_loads(tmp_path: Path) -> None:
    config = load_sources(write(tmp_path, GOOD))
    live, bbc = config.sources
    assert live.poll_interval.total_seconds() == 60
    assert live.liveblog is not None and live.liveblog.id_attr == "data-block-id"
    assert bbc.kind == "auto" and bbc.display_name == "bbc-world"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("kind: liveblog", "kind: podcast"), "sources[0].kind: Input should be 'rss', 'liveblog' or 'auto'"),
        (GOOD.replace("interval: 60s", "interval: soon"), "sources[0].interval: Value error, not a duration: 'soon'"),
        (GOOD.replace("url: https://feeds.bbc.example/news/world/rss.xml", "url: ftp://x"), "sources[1].url: Value error, must be an http:// or https:// URL"),
        (GOOD.replace("  - id: bbc-world\n", "  - name: no id\n"), "sources[1].id: Field required"),
        (GOOD.replace("bbc-world", "guardian-ukraine-live"), "sources: Value error, duplicate source id 'guardian-ukraine-live'"),
        (GOOD.replace("    tags: [ukraine]\n", "    tagz: [ukraine]\n"), "sources[0].tagz: Extra inputs are not permitted"),
        ("sources: [\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a mapping at the top"),
        ("sources: []\n", "sources: List should have at least 1 item"),
    ],
)
def test_bad_sources_yaml_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "nope.yaml")


def test_bad_setting_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_METRICS_PORT", "ninety")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith("WIREWATCH_METRICS_PORT: ")
    assert "'ninety'" in str(err.value)


def test_durations() -> None:
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("10m").total_seconds() == 600
    assert parse_duration("72h").total_seconds() == 72 * 3600
    assert parse_duration("7d").total_seconds() == 7 * 86400
    assert parse_duration(5).total_seconds() == 5
    with pytest.raises(ValueError):
        parse_duration("-5s")


def test_cli_reports_bad_config_as_one_line_and_exit_2(tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict) -> None:
    path = write(tmp_path, GOOD.replace("kind: liveblog", "kind: podcast"))
    proc = subprocess.run(
        [wirewatch_bin, "poll", "--once", "--config", str(path), "--state", str(tmp_path / "state")],
        capture_output=True, text=True, env=wirewatch_env, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "sources[0].kind" in lines[0] and "Traceback" not in proc.stderr


def test_cli_reports_bad_setting_as_one_line(tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict) -> None:
    env = {**wirewatch_env, "WIREWATCH_TOPIC_PARTITIONS": "0"}
    path = write(tmp_path, GOOD)
    proc = subprocess.run(
        [wirewatch_bin, "poll", "--once", "--config", str(path), "--state", str(tmp_path / "state")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("wirewatch poll: error: WIREWATCH_TOPIC_PARTITIONS: ")
