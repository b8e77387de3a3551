"""Config mistakes end as one clear line naming the field, and a non-zero exit."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from wirewatch.core.config import load_settings, parse_duration
from wirewatch.core.errors import ConfigError
from wirewatch.pollers.config import load_sources
from wirewatch.processors.entities import load_watchlist
from wirewatch.processors.rules import load_rules
from wirewatch.sinks.destinations import load_destinations

CONFIG_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"

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
        (GOOD.replace("kind: liveblog", "kind: podcast"),
         "sources[0] (guardian-ukraine-live).kind: must be one of rss, atom, liveblog, auto (got 'podcast')"),
        (GOOD.replace("interval: 60s", "interval: soon"),
         "sources[0] (guardian-ukraine-live).interval: not a duration: 'soon' (use e.g. 30s, 10m, 72h, 7d)"),
        (GOOD.replace("url: https://feeds.bbc.example/news/world/rss.xml", "url: ftp://x"),
         "sources[1] (bbc-world).url: must be an http:// or https:// URL (got 'ftp://x')"),
        (GOOD.replace("  - id: bbc-world\n", "  - name: no id\n"), "sources[1] (no id): missing required key 'id'"),
        (GOOD.replace("bbc-world", "guardian-ukraine-live"), "sources: duplicate source id 'guardian-ukraine-live'"),
        (GOOD.replace("    tags: [ukraine]\n", "    tagz: [ukraine]\n"),
         "sources[0] (guardian-ukraine-live): unknown key 'tagz' (did you mean 'tags'?)"),
        ("sources: [\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a mapping at the top"),
        ("sources: []\n", "sources: must have at least one entry"),
    ],
)
def test_bad_sources_yaml_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


# Every config file's mistakes, worded exactly (tests/fixtures/config/, one file per mistake): the
# entry named by index and id, unknown keys with difflib's closest field of the model at that
# level, and none of pydantic's own words ("Extra inputs are not permitted", "Value error, ...").
LOADERS: dict[str, Callable[[Path], object]] = {
    "sources": load_sources, "rules": load_rules, "destinations": load_destinations, "watchlist": load_watchlist,
}
CONFIG_MISTAKES = [
    ("sources_unknown_key.yaml", "sources[2] (reuters): unknown key 'intervall' (did you mean 'interval'?)"),
    ("sources_nested_unknown_key.yaml", "sources[0] (example-live).liveblog: unknown key 'bloc' (did you mean 'block'?)"),
    ("sources_fetch_unknown_key.yaml", "fetch: unknown key 'per_host_concurency' (did you mean 'per_host_concurrency'?)"),
    ("sources_top_unknown_key.yaml", "unknown key 'source' (did you mean 'sources'?)"),
    ("sources_no_close_key.yaml",
     "sources[0] (bbc-world): unknown key 'colour' (known keys: id, name, kind, url, site_url, interval, tags, liveblog, "
     "full_text, user_agent, headers, cookies, proxy, min_host_delay, timeout)"),
    ("sources_missing_id.yaml", "sources[1] (NPR News): missing required key 'id'"),
    ("sources_bad_kind.yaml", "sources[0] (bbc-world).kind: must be one of rss, atom, liveblog, auto (got 'podcast')"),
    ("sources_kind_typo.yaml",
     "sources[0] (bbc-world).kind: must be one of rss, atom, liveblog, auto (got 'rsss'; did you mean 'rss'?)"),
    ("sources_bad_interval.yaml", "sources[0] (bbc-world).interval: not a duration: 'soon' (use e.g. 30s, 10m, 72h, 7d)"),
    ("sources_bad_url.yaml",
     "sources[0] (bbc-world).url: must be an http:// or https:// URL (got 'ftp://feeds.bbci.co.uk/news/world/rss.xml')"),
    ("sources_duplicate_id.yaml", "sources: duplicate source id 'bbc-world'"),
    ("sources_empty_url.yaml", "sources[0] (bbc-world).url: must be text (got nothing)"),
    ("sources_bad_id.yaml",
     "sources[0] (bbc world).id: must start with a letter or digit and hold only letters, digits and . _ : - "
     "(got 'bbc world')"),
    ("sources_bad_max_bytes.yaml", "fetch.max_bytes: must be at least 1024 (got 10)"),
    # Per-source fetch settings: a secret (a pasted cookie value, a proxy password) is never echoed.
    ("sources_fetch_key_typo.yaml", "sources[0] (publisher-x): unknown key 'user_agnet' (did you mean 'user_agent'?)"),
    ("sources_bad_proxy.yaml",
     "sources[0] (publisher-x).proxy: must be an http:// or https:// proxy URL (got 'socks5://127.0.0.1:1080')"),
    ("sources_proxy_credentials.yaml",
     "sources[0] (publisher-x).proxy: must be scheme://host:port only (got 'http://***@proxy.example:3128/path')"),
    ("sources_cookie_env_missing.yaml",
     "sources[0] (publisher-x).cookies.session: environment variable WIREWATCH_FIXTURE_COOKIE_NEVER_SET is not set"),
    ("sources_cookie_literal.yaml",
     "sources[0] (publisher-x).cookies.session: must be {env: VARIABLE}: a cookie's value comes from an environment "
     "variable, never from the file"),
    ("sources_header_newline.yaml",
     "sources[0] (publisher-x).headers: header 'X-Desk': value must not contain line breaks or NUL "
     "(a header value is one line)"),
    ("sources_header_not_ascii.yaml",
     "sources[0] (publisher-x).headers: header 'X-Desk': value must be ASCII (an HTTP header cannot carry 'ü'; "
     "percent-encode it)"),
    ("sources_header_reserved.yaml",
     "sources[0] (publisher-x).headers: header 'Cookie' cannot be set here: use cookies: "
     "(values come from environment variables)"),
    ("sources_header_bad_name.yaml",
     "sources[0] (publisher-x).headers: header name 'X Desk' is not a valid HTTP header name"),
    ("sources_bad_timeout.yaml", "sources[0] (publisher-x).timeout: must be more than 0s (got '0s')"),
    ("sources_user_agent_newline.yaml",
     "sources[0] (publisher-x).user_agent: must not contain line breaks or NUL (a header value is one line) "
     "(got 'Wirewatch\\nX-Injected: yes')"),
    ("rules_unknown_key.yaml", "rules[0] (icc-warrant): unknown key 'notfy' (did you mean 'notify'?)"),
    ("rules_top_unknown_key.yaml", "unknown key 'rule' (did you mean 'rules'?)"),
    ("rules_bad_on_update.yaml", "rules[1] (grain-corridor).on_update: must be true or false (got 'sometimes')"),
    ("rules_bad_throttle.yaml", "rules[0] (icc-warrant).throttle: not a duration: 'often' (use e.g. 30s, 10m, 72h, 7d)"),
    ("rules_empty_id.yaml", "rules[0].id: must not be empty"),
    ("destinations_number_name.yaml", "destinations: key 5 must be text"),
    ("destinations_missing_secret.yaml",
     "destinations.desk.secret_env: environment variable WIREWATCH_FIXTURE_SECRET_NEVER_SET is not set"),
    ("destinations_unknown_key.yaml", "destinations.desk: unknown key 'rate_limt' (did you mean 'rate_limit'?)"),
    ("destinations_bad_rate.yaml", "destinations.desk.rate_limit: not a rate limit: 'lots' (use e.g. 30/min, 5/s, 100/h)"),
    ("destinations_bad_format.yaml", "destinations.desk.format: must be one of json, slack, teams, discord, email (got 'slak'; did you mean 'slack'?)"),
    ("destinations_too_many_retries.yaml", "destinations.desk.retries: must be at most 20 (got 50)"),
    ("destinations_bad_url.yaml", "destinations.desk.url: must be an http:// or https:// URL (got 'hooks.example.org/wirewatch')"),
    ("watchlist_unknown_key.yaml", "entities[1] (Bank of Japan): unknown key 'aliasses' (did you mean 'aliases'?)"),
    ("watchlist_bad_type.yaml",
     "entities[0] (Bank of Japan).type: must be one of PERSON, NORP, FAC, ORG, GPE, LOC, PRODUCT, EVENT, WORK_OF_ART, "
     "LAW, LANGUAGE, MISC (got 'ORGANISATION')"),
    ("watchlist_type_typo.yaml",
     "entities[0] (Bank of Japan).type: must be one of PERSON, NORP, FAC, ORG, GPE, LOC, PRODUCT, EVENT, WORK_OF_ART, "
     "LAW, LANGUAGE, MISC (got 'ORGG'; did you mean 'ORG'?)"),
]


@pytest.mark.parametrize(("name", "message"), CONFIG_MISTAKES)
def test_config_mistakes_are_one_line_in_our_words(name: str, message: str) -> None:
    path = CONFIG_FIXTURES / name
    with pytest.raises(ConfigError) as err:
        LOADERS[name.split("_", 1)[0]](path)
    assert str(err.value) == f"{path}: {message}"


def test_every_config_fixture_is_a_tested_mistake() -> None:
    tested = {name for name, _ in CONFIG_MISTAKES} | {"sources_atom.yaml"}
    assert {p.name for p in CONFIG_FIXTURES.glob("*.yaml")} == tested


def test_kind_atom_is_another_name_for_rss() -> None:
    """The README says RSS/Atom; feedparser reads both, so ``atom`` loads as ``rss``."""
    atom, rss = load_sources(CONFIG_FIXTURES / "sources_atom.yaml").sources
    assert (atom.kind, rss.kind) == ("rss", "rss")
    assert atom.poll_interval == rss.poll_interval


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WIREWATCH_METRICS_PORT", "ninety", "WIREWATCH_METRICS_PORT: must be a whole number (got 'ninety')"),
        ("WIREWATCH_METRICS_PORT", "70000", "WIREWATCH_METRICS_PORT: must be at most 65535 (got '70000')"),
        ("WIREWATCH_LOG_LEVEL", "loud", "WIREWATCH_LOG_LEVEL: must be one of debug, info, warning, error (got 'loud')"),
        ("WIREWATCH_LOG_FORMAT", "jsn", "WIREWATCH_LOG_FORMAT: must be one of auto, json, console (got 'jsn'; did you mean 'json'?)"),
    ],
)
def test_bad_settings_are_in_our_words(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == message


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
    path = CONFIG_FIXTURES / "sources_unknown_key.yaml"
    proc = subprocess.run(
        [wirewatch_bin, "poll", "--once", "--config", str(path), "--state", str(tmp_path / "state")],
        capture_output=True, text=True, env=wirewatch_env, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"wirewatch poll: error: {path}: sources[2] (reuters): unknown key 'intervall' (did you mean 'interval'?)"
    ]


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
