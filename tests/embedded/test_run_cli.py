"""`wirewatch run` on the command line: help with examples, one clear line and exit 2 for
every config mistake, one run per data folder; and the shipped examples load."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from wirewatch.embedded.runner import RunOptions, load_config

from .feeds import FIXTURES

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def wirewatch(bin_: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, *args], env=env, capture_output=True, text=True, timeout=60)


def test_help_shows_examples(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    result = wirewatch(wirewatch_bin, wirewatch_env, "run", "--help")
    assert result.returncode == 0
    for flag in ("--config", "--rules", "--destinations", "--data-dir", "--web", "--web-allowed-hosts",
                 "--fresh-store"):
        assert flag in result.stdout
    assert "examples:" in result.stdout
    assert "WIREWATCH_KAFKA_BOOTSTRAP=" in result.stdout


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"id": "a", "url": "http://127.0.0.1:9/feed"}]}))
    dests = tmp_path / "destinations.yaml"
    dests.write_text(yaml.safe_dump({"destinations": {"hook": {"url": "http://127.0.0.1:9/hook"}}}))
    return {"sources": sources, "rules": FIXTURES / "restart_rules.yaml", "destinations": dests,
            "tmp": tmp_path}


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-sources", "nope.yaml: file not found"),
        ("bad-url", "sources[0] (a).url: must be an http:// or https:// URL (got 'ftp://x')"),
        ("bad-query", "rules.yaml"),
        ("unknown-destination", "rule urgent: notifies 'hook', which is not defined in "),
        ("bad-web", "--web: expected HOST:PORT or off (got 'here')"),
        ("bad-setting", "WIREWATCH_TOPIC_PARTITIONS"),
        ("bad-allowed-hosts", "--web-allowed-hosts: expected NAME or NAME:PORT, comma-separated (got 'http://x')"),
    ],
)
def test_config_mistakes_are_one_line_and_exit_2(
    case: str, expected: str, files: dict[str, Path], wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    tmp = files["tmp"]
    args = ["run", "--config", str(files["sources"]), "--rules", str(files["rules"]),
            "--destinations", str(files["destinations"]), "--web", "off"]
    env = dict(wirewatch_env)
    if case == "missing-sources":
        args[2] = str(tmp / "nope.yaml")
    elif case == "bad-url":
        args[2] = write(tmp / "s.yaml", "sources:\n  - id: a\n    url: ftp://x\n")
    elif case == "bad-query":
        args[4] = write(tmp / "rules.yaml", "rules:\n  - id: r\n    query: '\"open'\n")
    elif case == "unknown-destination":  # --destinations given: a name it lacks is a typo
        args[6] = write(tmp / "d.yaml", "destinations:\n  hook2:\n    url: http://127.0.0.1:9/hook\n")
    elif case == "bad-web":
        args[-1] = "here"
    elif case == "bad-setting":
        env["WIREWATCH_TOPIC_PARTITIONS"] = "zero"
    elif case == "bad-allowed-hosts":
        args += ["--web-allowed-hosts", "http://x"]
    result = wirewatch(wirewatch_bin, env, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wirewatch run: error: ")
    assert expected in lines[0]


def test_one_run_per_data_folder(files: dict[str, Path], wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    args = ["run", "--config", str(files["sources"]), "--rules", str(files["rules"]),
            "--destinations", str(files["destinations"]), "--web", "off", "--ner", "off"]
    first = subprocess.Popen([wirewatch_bin, *args], env=wirewatch_env, stderr=subprocess.PIPE, text=True)
    try:
        lock = Path(wirewatch_env["WIREWATCH_DATA_DIR"]) / "wirewatch.db"
        deadline = time.monotonic() + 30
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = wirewatch(wirewatch_bin, wirewatch_env, *args)
        assert second.returncode == 2
        assert second.stderr.strip().endswith("another `wirewatch run` is using this data folder")
    finally:
        first.terminate()
        first.communicate(timeout=30)
    assert first.returncode == 0


def test_without_destinations_rules_that_notify_load_and_alerts_stay_home() -> None:
    """README's first example gives no --destinations: the shipped rules (notify: [desk]) load."""
    config = load_config(RunOptions(sources=EXAMPLES / "sources.yaml", rules=EXAMPLES / "rules.yaml", ner="off"))
    assert config.destinations == {}
    assert "desk" in {name for rule in config.processor.rules.rules for name in rule.notify}


def test_shipped_examples_load() -> None:
    config = load_config(RunOptions(
        sources=EXAMPLES / "sources.yaml", rules=EXAMPLES / "rules.yaml",
        destinations=EXAMPLES / "destinations.yaml", watchlist=EXAMPLES / "watchlist.yaml", ner="off",
    ))
    assert len(config.sources.sources) >= 8
    assert any(s.kind == "liveblog" for s in config.sources.sources)
    assert set(config.destinations) == {"desk"}
    assert len(config.processor.rules.rules) == 5
