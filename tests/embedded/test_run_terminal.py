"""`wirewatch run` as a user sees it: in a real pseudo-terminal (the rich view) and with pipes
(log lines), stopped by Ctrl-C (SIGINT) or SIGTERM at several moments. A stop is always clean:
no traceback, exit 130 after SIGINT and 0 after SIGTERM, and one summary of the session."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from .feeds import FIXTURES
from .terminal import FeedServer, Finished, run_in_terminal, serving

SUMMARY = re.compile(
    r"wirewatch run stopped (?:while starting|after \d+(?:s|m \d\ds)): (?P<items>\d+) items?, (?P<stories>\d+) "
    r"stor(?:y|ies), (?P<alerts>\d+) alerts?, (?:none sent \(no --destinations\)|(?P<delivered>\d+) delivered), "
    r"(?P<failing>\d+) failing sources?"
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with serving(FeedServer(start=3, per_second=2.0)) as server:
        yield server


@pytest.fixture
def sources(feeds: FeedServer, tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"id": "wire", "name": "Test Wire", "url": f"{feeds.base_url}/feed.xml", "interval": "1s"},
        {"id": "flaky", "url": f"{feeds.base_url}/flaky.xml", "interval": "1s"},
    ]}))
    return path


@pytest.fixture
def destinations(feeds: FeedServer, tmp_path: Path) -> Path:
    path = tmp_path / "destinations.yaml"
    path.write_text(yaml.safe_dump({"destinations": {"hook": {"url": f"{feeds.base_url}/hook"}}}))
    return path


def run_args(bin_: str, sources: Path, *extra: str) -> list[str]:
    # restart_rules.yaml's rule `urgent` notifies `hook`: without --destinations it is stored, not sent
    return [bin_, "run", "--config", str(sources), "--rules", str(FIXTURES / "restart_rules.yaml"),
            "--web", "off", "--ner", "off", *extra]


def terminal_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "WIREWATCH_LOG_FORMAT"}  # auto: the terminal view


def assert_clean(done: Finished, code: int) -> re.Match[str]:
    assert "Traceback" not in done.text, done.text[-4000:]
    assert "Error" not in done.text.replace("ConnectError", ""), done.text[-4000:]
    assert done.returncode == code, done.text[-4000:]
    summaries = SUMMARY.findall(done.text)
    assert len(summaries) == 1, done.text[-4000:]
    match = SUMMARY.search(done.text)
    assert match is not None
    return match


def first_item(text: str) -> bool:
    return re.search(r"Test Wire  Story \d", text) is not None


@pytest.mark.parametrize(
    ("moment", "until"),
    [
        ("starting", lambda text: "wirewatch run" in text),
        ("running", lambda text: "wirewatch run: " in text),
        ("polling", first_item),
    ],
)
def test_ctrl_c_in_a_terminal_stops_cleanly_with_exit_130_and_a_summary(
    moment: str, until: object, feeds: FeedServer, sources: Path, destinations: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str],
) -> None:
    args = run_args(wirewatch_bin, sources, "--destinations", str(destinations))
    done = run_in_terminal(args, env=terminal_env(wirewatch_env), until=until)  # type: ignore[arg-type]
    summary = assert_clean(done, 130)
    assert int(summary["delivered"]) == len(feeds.hooks)  # the drain finished what was alerted
    if moment == "polling":
        assert int(summary["items"]) >= 1
        assert int(summary["stories"]) >= 1
        assert int(summary["alerts"]) == int(summary["delivered"]) == 1  # story 0 is urgent


def test_a_second_ctrl_c_stops_at_once_and_as_cleanly(
    sources: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    done = run_in_terminal(run_args(wirewatch_bin, sources), env=terminal_env(wirewatch_env), until=first_item,
                           signals=(signal.SIGINT, signal.SIGINT))
    assert_clean(done, 130)


def test_sigterm_in_a_terminal_exits_0(sources: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    done = run_in_terminal(run_args(wirewatch_bin, sources), env=terminal_env(wirewatch_env), until=first_item,
                           signals=(signal.SIGTERM,))
    assert_clean(done, 0)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_with_pipes_the_stop_is_one_run_stopped_log_line(
    sig: signal.Signals, code: int, sources: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    def polled_both(text: str) -> bool:
        events = [json.loads(line) for line in text.splitlines() if line.endswith("}")]
        seen = {(e.get("source"), e["event"]) for e in events}
        return {("wire", "source_polled"), ("flaky", "source_failed")} <= seen

    done = run_in_terminal(run_args(wirewatch_bin, sources), env=wirewatch_env, pty=False, signals=(sig,),
                           until=polled_both)
    assert "Traceback" not in done.output
    assert done.returncode == code, done.output[-3000:]
    lines = [json.loads(line) for line in done.output.splitlines()]  # every line is a JSON log line
    stopped = [e for e in lines if e["event"] == "run stopped"]
    assert len(stopped) == 1
    assert stopped[0]["signal"] == sig.name
    assert stopped[0]["items"] >= 1 and stopped[0]["stories"] >= 1
    assert stopped[0]["failing_sources"] == ["flaky"]
    assert stopped[0]["delivered"] == 0
    assert set(stopped[0]) >= {"items", "stories", "alerts", "delivered", "failing_sources", "runtime_seconds"}
    # without --destinations: said once, at start
    notes = [e for e in lines if e["event"] == "no --destinations: alerts are stored, not sent anywhere"]
    assert len(notes) == 1


def test_the_terminal_view_shows_items_alerts_and_source_changes(
    feeds: FeedServer, sources: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """New stories one line each (time, source, title), ALERT lines, a failing source once when it
    fails and once when it recovers (not per poll), and the status line's current rate."""

    def recovered(text: str) -> bool:
        if "source flaky failing" in text:
            feeds.recovered.set()
        return "source flaky recovered" in text and first_item(text) and " ALERT " in text

    done = run_in_terminal(run_args(wirewatch_bin, sources), env=terminal_env(wirewatch_env), until=recovered,
                           columns=48)
    summary = assert_clean(done, 130)
    text = done.text
    assert text.count("no --destinations: alerts are shown here and stored, not sent anywhere") == 1
    lines = text.splitlines()
    items = [line for line in lines if re.fullmatch(r"\d\d:\d\d  Test Wire  Story \d+ .*", line)]
    assert items, text
    assert all(len(line) <= 48 for line in items)
    # cut to the terminal's width with an ellipsis, not wrapped onto a second line
    alerts = [line for line in lines if re.fullmatch(r"\d\d:\d\d  ALERT urgent -> Story \d+ urgent .*", line)]
    assert alerts, text
    assert all(len(line) == 48 and line.endswith("…") for line in alerts), alerts
    assert not any(re.match(r"w\d+\b|\(Test Wire\)", line) for line in lines)  # no wrapped-off tails
    # story 0 alerted once, however many polls saw it
    assert sum(1 for line in alerts if " -> Story 0 urgent " in line) == 1
    failing = [line for line in lines if line.startswith("source flaky failing")]
    assert len(failing) == 1, text
    assert failing[0].startswith("source flaky failing: http_status: ")
    assert text.count("source flaky recovered") == 1
    assert "source_failed" not in text  # the per-poll warning is the view's one line
    assert done.signalled_at is not None  # the screen when Ctrl-C was pressed: the status line at the bottom
    status = done.signalled_at.rstrip("\n").splitlines()[-1]
    assert re.match(r"\d+\.\d items/s · session: \d+ items?, \d+ stor", status), status
    assert len(status) <= 48  # cut too (the wide version: test_a_terminal_view_says_where_the_page_is)
    assert status not in text  # gone at stop, the summary instead
    assert int(summary["failing"]) == 0


def test_a_terminal_view_says_where_the_page_is(
    sources: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    args = [*run_args(wirewatch_bin, sources)[:-4], "--web", "127.0.0.1:0", "--ner", "off"]
    done = run_in_terminal(args, env=terminal_env(wirewatch_env), columns=200,
                           until=lambda text: "Ctrl-C stops it" in text and " items/s · " in text)
    assert_clean(done, 130)
    assert re.search(r"wirewatch run: page at http://127\.0\.0\.1:\d+/, 2 sources, 2 rules, data in ", done.text)
    assert done.signalled_at is not None
    status = done.signalled_at.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"\d+\.\d items/s · session: \d+ items?, \d+ stor(y|ies), \d+ alerts? · store: \d+ items?, "
                        r"\d+ stor(y|ies)( · 1 source failing)? · http://127\.0\.0\.1:\d+/", status), status


@pytest.mark.kafka
@pytest.mark.elastic
@pytest.mark.parametrize("moment", ["starting", "polling"])
def test_ctrl_c_on_the_distributed_stack_stops_as_cleanly(
    moment: str, sources: Path, destinations: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
    kafka_bootstrap: str, elasticsearch_url: str, unique: str,
) -> None:
    """With Kafka and Elasticsearch a start takes longer (topics, templates): Ctrl-C during it
    abandons the start with every client closed (no 'Unclosed' warning), exit 130, the summary."""
    env = {**terminal_env(wirewatch_env), "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "WIREWATCH_ELASTICSEARCH_URL": elasticsearch_url, "WIREWATCH_TOPIC_PREFIX": f"test-{unique}",
           "WIREWATCH_INDEX_PREFIX": f"test-{unique}"}
    until = (lambda text: "wirewatch run starting" in text) if moment == "starting" else first_item
    try:
        done = run_in_terminal(run_args(wirewatch_bin, sources, "--destinations", str(destinations)), env=env,
                               until=until, timeout=120)
    finally:  # this test's indices and templates (the node is shared)
        with httpx.Client(base_url=elasticsearch_url, timeout=30) as es:
            es.delete(f"/test-{unique}-*", params={"expand_wildcards": "all", "allow_no_indices": "true"})
            templates = es.get(f"/_index_template/test-{unique}-*")
            for template in templates.json().get("index_templates", []) if templates.is_success else []:
                es.delete(f"/_index_template/{template['name']}")
    summary = assert_clean(done, 130)
    assert "Unclosed" not in done.text
    if moment == "polling":
        assert int(summary["items"]) >= 1


def test_with_pipes_each_delivery_is_one_line_and_the_counts_agree(
    feeds: FeedServer, sources: Path, destinations: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """Stories 0, 10 and 20 are urgent: three deliveries, three `alert delivered` lines, and the
    `run stopped` line and the webhook receiver say three."""

    def three_delivered(text: str) -> bool:
        return text.count('"event": "alert delivered"') >= 3

    args = run_args(wirewatch_bin, sources, "--destinations", str(destinations))
    done = run_in_terminal(args, env=wirewatch_env, pty=False, until=three_delivered, timeout=90)
    assert done.returncode == 130, done.output[-3000:]
    lines = [json.loads(line) for line in done.output.splitlines()]
    delivered = [e for e in lines if e["event"] == "alert delivered"]
    stopped = [e for e in lines if e["event"] == "run stopped"]
    assert len(stopped) == 1
    assert len(delivered) == stopped[0]["delivered"] == len(feeds.hooks) >= 3
    assert stopped[0]["alerts"] == len({e["alert"] for e in delivered})
